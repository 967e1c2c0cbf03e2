import { readFileSync } from 'node:fs';
import { fromCallback } from 'xstate';
import { pidsInGroups } from '../processes/tracker.js';
import type { ActorDeps } from './deps.js';

/** PSS in MB of every process in the given process groups (castpool's browsers lead their own). */
export function groupPssMb(pgids: readonly number[]): number {
  let kb = 0;
  for (const pid of pidsInGroups(pgids)) {
    try {
      kb += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return kb / 1024;
}

/** Reports `pool.memoryPressure` while the browsers' PSS exceeds `memoryBudgetMb` (0 = never). */
export function memoryWatchActor(deps: ActorDeps) {
  return fromCallback(({ sendBack }) => {
    const { memoryBudgetMb, memoryCheckMs } = deps.config.supervision;
    if (memoryBudgetMb === 0) return () => {};
    const timer = setInterval(() => {
      const pids = deps.processes
        .list()
        .filter((p) => p.kind === 'chromium')
        .map((p) => p.pid);
      const usedMb = groupPssMb(pids);
      if (usedMb > memoryBudgetMb) sendBack({ type: 'pool.memoryPressure', usedMb: Math.round(usedMb) });
    }, memoryCheckMs);
    return () => clearInterval(timer);
  });
}
