import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Browser profiles (`b-<pid>-…`), sessions' downloads (`d-<pid>-…`) and embedded NATS stores
 * (`nats-<pid>-…`) name the service PID; so did recordings (`r-<pid>-…`) before they outlived their
 * session (now `recordings/`, kept across restarts: src/actors/recording-archive.ts).
 */
const PROFILE = /^(?:b|d|r|nats)-(\d+)-/;

/** Whether a process with this PID runs (signal 0 checks without sending anything). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Start-up sweep: a killed predecessor may have left Chromium processes and profiles under
 * `dataDir`. Profiles carry the owning service PID; only those whose owner is gone are touched.
 */
export function sweepLeftovers(dataDir: string): { killed: number; removed: number } {
  let killed = 0;
  let removed = 0;
  const orphaned = (path: string) => {
    const owner = Number(PROFILE.exec(path)?.[1]);
    return owner > 0 && owner !== process.pid && !isRunning(owner);
  };
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      // Chromium names its profile; the embedded nats-server its config file inside its store.
      const dir = /--user-data-dir=([^\0]+)/.exec(cmd)?.[1] ?? /\0-c\0([^\0]+)/.exec(cmd)?.[1];
      if (dir?.startsWith(`${dataDir}/`) && orphaned(dir.slice(dataDir.length + 1))) {
        process.kill(Number(entry), 'SIGKILL');
        killed++;
      }
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  let entries: string[] = [];
  try {
    entries = readdirSync(dataDir);
  } catch {
    return { killed, removed };
  }
  for (const name of entries) {
    if (!orphaned(name)) continue;
    rmSync(join(dataDir, name), { recursive: true, force: true });
    removed++;
  }
  return { killed, removed };
}
