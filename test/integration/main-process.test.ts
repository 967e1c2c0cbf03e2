import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesMatching } from '../helpers/processes.js';
import { startTestPages } from '../helpers/test-pages.js';
import { TEST_ROOT } from '../helpers/test-root.js';
import { until } from '../helpers/viewer.js';

let pages: Awaited<ReturnType<typeof startTestPages>>;

beforeAll(async () => {
  pages = await startTestPages();
});

afterAll(async () => {
  await pages?.close();
});

describe('the service process (src/main.ts)', () => {
  it('serves on the address from PORT/HOST and exits 0 on SIGTERM, leaving no Chromium', async () => {
    const dataDir = mkdtempSync(join(TEST_ROOT, 'main-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', CASTPOOL_DATA_DIR: dataDir, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const address = await until(
        () => /castpool listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1],
        Boolean,
        30_000,
      );
      expect(address).toBeDefined();
      const created = await fetch(`${address}/api/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: pages.url('/static') }),
      });
      expect(created.status).toBe(201);
      expect(processesMatching(dataDir).length).toBeGreaterThan(0);
      const started = Date.now();
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      console.log(`main: SIGTERM to exit ${Date.now() - started} ms`);
      expect(output).toMatch(/shutting down/);
      expect(
        await until(
          () => processesMatching(dataDir).length,
          (n) => n === 0,
          5000,
        ),
      ).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
