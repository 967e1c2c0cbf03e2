import { readFileSync } from 'node:fs';
import { fromCallback } from 'xstate';
import type { ActorDeps } from './deps.js';

interface CpuTimes {
  busy: number;
  total: number;
}

/** Host-wide CPU times from /proc/stat's aggregate line (iowait counts as idle). */
export function readCpuTimes(): CpuTimes {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [, ...fields] = line.trim().split(/\s+/);
  const values = fields.map(Number);
  const total = values.slice(0, 8).reduce((sum, v) => sum + v, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

/** Busy share of all cores between two readings (0–1). */
export const cpuShare = (before: CpuTimes, after: CpuTimes) =>
  after.total > before.total ? (after.busy - before.busy) / (after.total - before.total) : 0;

/** Reports `pool.load` (host CPU since the last check) every `captureBudget.checkMs`. */
export function hostLoadActor(deps: ActorDeps) {
  return fromCallback(({ sendBack }) => {
    let last = readCpuTimes();
    const timer = setInterval(() => {
      const now = readCpuTimes();
      sendBack({ type: 'pool.load', cpu: cpuShare(last, now) });
      last = now;
    }, deps.config.captureBudget.checkMs);
    return () => clearInterval(timer);
  });
}
