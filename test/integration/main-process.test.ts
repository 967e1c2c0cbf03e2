import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesMatching } from '../helpers/processes.js';
import { startTestPages } from '../helpers/test-pages.js';
import { TEST_ROOT } from '../helpers/test-root.js';
import { until } from '../helpers/viewer.js';

let pages: Awaited<ReturnType<typeof startTestPages>>;

beforeAll(async () => {
  pages = await startTestPages();
  // What `npm start` runs: the compiled service (incremental: seconds when dist is current).
  execFileSync('bash', ['scripts/build.sh'], { stdio: 'ignore' });
}, 120_000);

afterAll(async () => {
  await pages?.close();
});

const TOKEN = 'main-process-token-0123456789abcdef';

/** Runs the compiled service as `npm start` does (no TypeScript loader); output collected. */
function startMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ['dist/main.js'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { text: '' };
  child.stdout.on('data', (chunk) => {
    out.text += chunk;
  });
  child.stderr.on('data', (chunk) => {
    out.text += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out, exited };
}

const uidOf = (pid: number) =>
  Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('the service process (npm start: dist/main.js, compiled)', () => {
  it('refuses to listen beyond loopback without API tokens', async () => {
    const dataDir = mkdtempSync(join(TEST_ROOT, 'main-'));
    const { out, exited } = startMain({ HOST: '0.0.0.0', CASTPOOL_DATA_DIR: dataDir });
    expect(await exited).toBe(1);
    expect(out.text).toMatch(/refusing to start: .*without API tokens/);
  });

  it('serves, keeps secrets out of Chromium, cleans its NATS store and exits 0 on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(TEST_ROOT, 'main-'));
    // The suite's pages are on loopback: the intranet opt-out, which is logged.
    const configFile = join(dataDir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ urlPolicy: { blockPrivateAddresses: false } }));
    const { child, out, exited } = startMain({
      CASTPOOL_DATA_DIR: dataDir,
      CASTPOOL_CONFIG: configFile,
      CASTPOOL_API_TOKENS: `ops=${TOKEN}`,
    });
    try {
      const address = await until(
        () => /castpool listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out.text)?.[1],
        Boolean,
        30_000,
      );
      expect(out.text).toMatch(/blockPrivateAddresses is off/);
      const created = await fetch(`${address}/api/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ url: pages.url('/static') }),
      });
      expect(created.status).toBe(201);
      // Health says nothing about NATS or the node to a caller without a token.
      expect(await (await fetch(`${address}/api/health`)).json()).toEqual({ status: 'ok' });

      // Chromium: never castpool's environment (the API tokens), and sandboxed as an unprivileged
      // user when castpool runs as root (set-up creates castpool-chromium).
      const chromium = processesMatching(dataDir).filter((p) => /chromium/.test(p.cmd));
      expect(chromium.length).toBeGreaterThan(0);
      for (const { pid } of chromium) {
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
        expect(environ).not.toContain(TOKEN);
        expect(environ).not.toContain('CASTPOOL_');
        expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain('--no-sandbox');
        if (process.getuid?.() === 0) expect(uidOf(pid)).not.toBe(0);
      }
      // The embedded nats-server: nkey auth, its store the service's alone.
      const store = readdirSync(dataDir).find((name) => name.startsWith('nats-'));
      expect(store).toBeDefined();
      const storeDir = join(dataDir, store as string);
      expect(modeOf(storeDir)).toBe(0o700);
      expect(modeOf(join(storeDir, 'nats-server.conf'))).toBe(0o600);
      expect(readFileSync(join(storeDir, 'nats-server.conf'), 'utf8')).toMatch(/nkey: "U[A-Z0-9]{55}"/);
      expect(modeOf(join(storeDir, 'js'))).toBe(0o700);

      const started = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      console.log(`main: SIGTERM to exit ${Date.now() - started} ms`);
      expect(out.text).toMatch(/shutting down/);
      expect(
        await until(
          () => processesMatching(dataDir).length,
          (n) => n === 0,
          5000,
        ),
      ).toBe(0);
      // A clean shutdown leaves no registry store behind (saved cookies lived there).
      expect(readdirSync(dataDir).filter((name) => name.startsWith('nats-'))).toEqual([]);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
