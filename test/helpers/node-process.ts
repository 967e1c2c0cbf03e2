import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOOPBACK_PAGES } from './app.js';
import { TEST_ROOT } from './test-root.js';
import { until } from './viewer.js';

export interface NodeProcess {
  id: string;
  url: string;
  child: ChildProcess;
  output(): string;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A castpool node as its own process (`src/main.ts`), as production runs it. */
export async function startNodeProcess(
  id: string,
  env: Record<string, string>,
  config: Record<string, unknown> = {},
): Promise<NodeProcess> {
  const dataDir = mkdtempSync(join(TEST_ROOT, `node-${id}-`));
  const configFile = join(dataDir, 'config.json');
  // The suite's pages are on loopback: the documented opt-out of private-address blocking.
  writeFileSync(configFile, JSON.stringify({ urlPolicy: LOOPBACK_PAGES, ...config }));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      CASTPOOL_NODE_ID: id,
      CASTPOOL_DATA_DIR: dataDir,
      CASTPOOL_CONFIG: configFile,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (chunk) => {
    log = (log + chunk).slice(-200_000);
    if (process.env.CASTPOOL_TEST_NODE_LOG)
      appendFileSync(`${process.env.CASTPOOL_TEST_NODE_LOG}-${id}.log`, chunk);
  });
  child.stderr?.on('data', (chunk) => {
    log = (log + chunk).slice(-200_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await until(
    () => /castpool listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log)?.[1],
    (found) => Boolean(found) || child.exitCode !== null,
    60_000,
  );
  if (!url) {
    child.kill('SIGKILL');
    throw new Error(`node ${id} did not start:\n${log.slice(-3000)}`);
  }
  return {
    id,
    url,
    child,
    output: () => log,
    async api(method, path, body) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions
      let json: any;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = text;
      }
      return { status: response.status, json };
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
