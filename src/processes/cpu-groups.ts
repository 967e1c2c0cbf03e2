import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { pidsInGroups } from './tracker.js';

/** cgroup v1 `cpu.shares` of the default group: a browser of priority 5 (the default) gets it. */
const DEFAULT_SHARES = 1024;
const DEFAULT_PRIORITY = 5;
/** A closed browser's processes are reaped within moments: its group's removal is retried meanwhile. */
const REMOVE_RETRY_MS = 100;
const REMOVE_TRIES = 50;

/**
 * CPU weight for a capture priority (1–10): proportional, so a priority-8 browser gets four times the
 * CPU of a priority-2 one when both want more than the host has (the kernel enforces it; `nice`
 * could not, for processes of another user).
 */
export function sharesFor(priority: number): number {
  return Math.max(2, Math.round((DEFAULT_SHARES * priority) / DEFAULT_PRIORITY));
}

/** Where castpool keeps its browsers' CPU groups, or why it does not. */
export interface CpuGroups {
  /** `undefined` when the host lets castpool use cgroups; else why not (logged once at start). */
  readonly unavailable: string | undefined;
  /** Moves every process of the browser's process group (its leader `pgid`) into the host's group. */
  place(hostId: string, pgid: number): void;
  /** Sets the host's CPU weight from the highest priority of its sessions. */
  weigh(hostId: string, priority: number): void;
  /** The host's group, once its processes are gone. */
  remove(hostId: string): void;
  /** Every group castpool made (at shutdown, after its processes). */
  close(): void;
  /** The host's group directory (for inspection and tests), if it has one. */
  dirOf(hostId: string): string | undefined;
}

/**
 * A cgroup v1 `cpu` hierarchy under `root` (e.g. /sys/fs/cgroup; empty: off): one group per castpool process,
 * one per browser inside it. Containers often mount it read-only: then nothing is placed, and why is
 * said once.
 */
export function cpuGroups(root: string, log: Pick<FastifyBaseLogger, 'info' | 'warn'>): CpuGroups {
  // Named after the process (a successor tells leftovers apart), unique per service in it (tests run several).
  const base = join(root, 'cpu', `castpool-${process.pid}-${randomUUID().slice(0, 8)}`);
  const unavailable = root ? prepare(root, base) : 'turned off (cgroupRoot is empty)';
  if (unavailable) {
    log.info({ root, reason: unavailable }, 'cgroups unavailable: browsers share the CPU without priorities');
    return {
      unavailable,
      place: () => {},
      weigh: () => {},
      remove: () => {},
      close: () => {},
      dirOf: () => undefined,
    };
  }
  const hosts = new Map<string, { dir: string; shares: number }>();
  /** Weights asked for before (or while) a browser was placed. */
  const wanted = new Map<string, number>();
  const write = (file: string, value: string | number) => writeFileSync(file, String(value));
  const moveInto = (dir: string, pid: number) => {
    try {
      write(join(dir, 'cgroup.procs'), pid);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // exited meanwhile
    }
  };
  /** A cgroup directory goes with rmdir once no process is in it; the last ones may still be exiting. */
  const removeDir = (dir: string, triesLeft = 0) => {
    try {
      rmdirSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EBUSY' && triesLeft > 0)
        setTimeout(() => removeDir(dir, triesLeft - 1), REMOVE_RETRY_MS).unref();
    }
  };
  return {
    unavailable,
    place(hostId, pgid) {
      const dir = join(base, hostId);
      try {
        mkdirSync(dir, { recursive: true });
        // A process forked while the others move stays where its parent was: move until none is left.
        for (let round = 0; round < 5; round++) {
          const placed = new Set(readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').map(Number));
          const left = pidsInGroups([pgid]).filter((pid) => !placed.has(pid));
          if (left.length === 0) break;
          for (const pid of left) moveInto(dir, pid);
        }
        hosts.set(hostId, { dir, shares: DEFAULT_SHARES });
        const priority = wanted.get(hostId);
        if (priority !== undefined) this.weigh(hostId, priority);
      } catch (error) {
        log.warn({ err: error, hostId }, 'browser not placed in its CPU group');
      }
    },
    weigh(hostId, priority) {
      wanted.set(hostId, priority);
      const host = hosts.get(hostId);
      const shares = sharesFor(priority);
      if (!host || host.shares === shares) return;
      try {
        write(join(host.dir, 'cpu.shares'), shares);
        host.shares = shares;
      } catch (error) {
        log.warn({ err: error, hostId }, 'CPU weight not set');
      }
    },
    remove(hostId) {
      wanted.delete(hostId);
      const host = hosts.get(hostId);
      if (!host) return;
      hosts.delete(hostId);
      removeDir(host.dir, REMOVE_TRIES);
    },
    close() {
      for (const hostId of [...hosts.keys()]) this.remove(hostId);
      for (const leftover of safeList(base)) removeDir(join(base, leftover));
      removeDir(base);
    },
    dirOf: (hostId) => hosts.get(hostId)?.dir,
  };
}

/** Makes castpool's own group; returns why it cannot (not a cgroup v1 cpu hierarchy, read-only, …). */
function prepare(root: string, base: string): string | undefined {
  const hierarchy = join(root, 'cpu');
  try {
    if (!statSync(join(hierarchy, 'cpu.shares')).isFile())
      return `${hierarchy} is not a cgroup v1 cpu hierarchy`;
    mkdirSync(base, { recursive: true });
  } catch (error) {
    return `${hierarchy}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
  try {
    readFileSync(join(base, 'cpu.shares'), 'utf8'); // the kernel made it: a real cgroup
    sweepDeadOwners(hierarchy);
    return undefined;
  } catch (error) {
    rmdirSync(base);
    return `${hierarchy}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
  }
}

/** Empty groups of castpool processes that are gone (killed before their shutdown removed them). */
function sweepDeadOwners(hierarchy: string): void {
  for (const name of safeList(hierarchy)) {
    const owner = /^castpool-(\d+)-/.exec(name)?.[1];
    if (!owner || existsSync(`/proc/${owner}`)) continue;
    const dir = join(hierarchy, name);
    try {
      for (const host of safeList(dir)) rmdirSync(join(dir, host));
      rmdirSync(dir);
    } catch {
      // a process still runs in it; its own castpool's leftover sweep ends it, the next start removes it
    }
  }
}

const safeList = (dir: string) => {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
  } catch {
    return [];
  }
};
