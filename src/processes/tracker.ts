import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface TrackedProcess {
  pid: number;
  kind: 'chromium' | 'ffmpeg' | 'nats-server';
  owner: string;
  exited: Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal); // the whole process group: children were spawned detached
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** PIDs of every live process in the given process groups (castpool's children lead their own). */
export function pidsInGroups(pgids: readonly number[]): number[] {
  const pids: number[] = [];
  if (pgids.length === 0) return pids;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgids.includes(pgid)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/**
 * Every child process castpool starts, spawned as a process-group leader. Stopping a process ends
 * its whole group; on exit of Node, whatever is left gets SIGKILL. Only processes started here are touched.
 */
export class ProcessTracker {
  private readonly tracked = new Map<number, TrackedProcess>();
  private readonly exitHook = () => this.killAllNow();

  constructor() {
    process.once('exit', this.exitHook);
  }

  track(child: ChildProcess, kind: TrackedProcess['kind'], owner: string): TrackedProcess {
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${kind} did not start`);
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    }).then(() => {
      this.tracked.delete(pid);
    });
    const entry = { pid, kind, owner, exited };
    this.tracked.set(pid, entry);
    return entry;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the leader has exited. */
  async stop(pid: number, graceMs = 2000): Promise<void> {
    const entry = this.tracked.get(pid);
    if (!entry) return;
    signalGroup(pid, 'SIGTERM');
    const exited = await Promise.race([entry.exited.then(() => true), sleep(graceMs).then(() => false)]);
    // The leader may be gone while its children (Chromium renderers, zygotes) are not.
    signalGroup(pid, 'SIGKILL');
    if (!exited) await entry.exited;
  }

  async stopAll(graceMs = 2000, which: (p: TrackedProcess) => boolean = () => true): Promise<void> {
    const chosen = [...this.tracked.values()].filter(which);
    await Promise.all(chosen.map(({ pid }) => this.stop(pid, graceMs)));
  }

  killAllNow(): void {
    for (const pid of this.tracked.keys()) signalGroup(pid, 'SIGKILL');
  }

  list(): TrackedProcess[] {
    return [...this.tracked.values()];
  }

  dispose(): void {
    process.off('exit', this.exitHook);
  }
}
