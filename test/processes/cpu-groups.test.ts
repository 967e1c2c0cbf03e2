import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuGroups, sharesFor } from '../../src/processes/cpu-groups.js';

const SYSTEM_ROOT = '/sys/fs/cgroup';
const lines: string[] = [];
const record = (...args: unknown[]) => {
  lines.push(String(args[1] ?? args[0]));
};
const log = { info: record, warn: record } as unknown as Parameters<typeof cpuGroups>[1];

/** Whether this host lets root make cgroup v1 cpu groups (this machine kind does; containers often not). */
const systemAllows = cpuGroups(SYSTEM_ROOT, log);
systemAllows.close();

describe('CPU groups', () => {
  it('weighs priorities proportionally: 8 gets four times the share of 2, the default 5 the kernel default', () => {
    expect(sharesFor(5)).toBe(1024);
    expect(sharesFor(8) / sharesFor(2)).toBeCloseTo(4, 1);
    expect(sharesFor(10)).toBeGreaterThan(sharesFor(9));
  });

  it('goes on without where the host has no cgroup v1 cpu hierarchy, says why once, and leaves nothing', () => {
    const root = mkdtempSync(join(tmpdir(), 'castpool-cgroup-'));
    try {
      // A plain directory that looks like a hierarchy (a cpu.shares file) is not one either.
      mkdirSync(join(root, 'cpu'));
      writeFileSync(join(root, 'cpu', 'cpu.shares'), '1024');
      lines.length = 0;
      const groups = cpuGroups(root, log);
      expect(groups.unavailable).toMatch(/cpu/);
      expect(lines.join('')).toMatch(/cgroups unavailable/);
      groups.place('host-1', process.pid);
      groups.weigh('host-1', 8);
      expect(groups.dirOf('host-1')).toBeUndefined();
      groups.close();
      expect(readdirSync(join(root, 'cpu'))).toEqual(['cpu.shares']);
      expect(cpuGroups('', log).unavailable).toMatch(/off/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it.runIf(systemAllows.unavailable === undefined)(
    'puts a process group in its own cpu group with its weight, and removes the group after it',
    async () => {
      const groups = cpuGroups(SYSTEM_ROOT, log);
      const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
      try {
        groups.place('host-1', child.pid as number);
        const dir = groups.dirOf('host-1') as string;
        expect(readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(child.pid));
        groups.weigh('host-1', 8);
        expect(readFileSync(join(dir, 'cpu.shares'), 'utf8').trim()).toBe(String(sharesFor(8)));
        process.kill(child.pid as number, 'SIGKILL');
        await new Promise((resolve) => child.once('exit', resolve));
        groups.remove('host-1');
        expect(existsSync(dir)).toBe(false);
      } finally {
        if (child.exitCode === null && child.signalCode === null)
          process.kill(child.pid as number, 'SIGKILL');
        groups.close();
      }
      expect(
        readdirSync(join(SYSTEM_ROOT, 'cpu')).filter((name) => name.startsWith(`castpool-${process.pid}-`)),
      ).toEqual([]);
    },
  );
});
