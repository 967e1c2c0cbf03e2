import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { pidsInGroups } from '../src/processes/tracker.js';

type Overrides = Parameters<typeof loadConfig>[0];

export const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
export const WARMUP_MS = 1500;
export const VIEWPORT = { width: 1280, height: 720 };
let rootDir: string | undefined;
/** The bench's scratch directory, made on first use (importing a bench module creates nothing). */
export const benchRoot = () => {
  rootDir ??= mkdtempSync(join(tmpdir(), 'castpool-bench-'));
  return rootDir;
};
/** Removes the scratch directory, if one was made. */
export const removeBenchRoot = () => {
  if (rootDir) rmSync(rootDir, { recursive: true, force: true });
  rootDir = undefined;
};
/** The Chromium castpool is configured with (config/default.json, CHROMIUM_PATH): the bench uses the same. */
export const chromiumPath = () => loadConfig({}, process.env).chromiumPath;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

export const percentile = (values: number[], p: number) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
};
export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * CPU seconds of every process in a process group (a detached Chromium or ffmpeg leads its own), or
 * of that one process (`alone`: a child that shares the bench's group).
 */
export function groupCpuSeconds(pgid: number, alone = false): number {
  let ticks = 0;
  for (const pid of alone ? [pgid] : pidsInGroups([pgid])) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks / 100; // USER_HZ
}
/** CPU seconds of every process castpool started and still tracks (Chromiums, ffmpegs, nats-server). */
export const startedCpuSeconds = (castpool: { processes: { list(): { pid: number }[] } }) =>
  castpool.processes.list().reduce((sum, { pid }) => sum + groupCpuSeconds(pid), 0);

export const nodeCpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

export async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await sleep(50);
}

/** A castpool service on a free loopback port, profiles under the bench's root. */
export async function startService(overrides: Overrides = {}) {
  const config = loadConfig(
    {
      port: 0,
      logLevel: 'warn',
      dataDir: mkdtempSync(join(benchRoot(), 'data-')),
      // The bench pages are on loopback: the intranet opt-out of private-address blocking.
      urlPolicy: { allowHosts: [], denyHosts: [], blockPrivateAddresses: false },
      ...overrides,
    },
    {},
  );
  const built = await buildApp(config);
  // Loopback unless the variant names an address (a network lab's).
  const host = overrides.host ?? '127.0.0.1';
  await built.app.listen({ host, port: 0 });
  const address = built.app.server.address();
  const base = `http://${host}:${typeof address === 'object' && address ? address.port : 0}`;
  return { ...built, base };
}
