import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepLeftovers } from '../../src/actors/leftovers.js';
import { isAlive } from '../helpers/processes.js';
import { TEST_ROOT } from '../helpers/test-root.js';
import { until } from '../helpers/viewer.js';

describe('start-up sweep', () => {
  it('ends processes and removes profiles of a dead predecessor, and nothing of a live one', async () => {
    const dataDir = mkdtempSync(join(TEST_ROOT, 'sweep-'));
    const deadOwner = 2 ** 22 + 12345; // above pid_max defaults: never a running process
    const stale = join(dataDir, `b-${deadOwner}-host-1-abcd`);
    const live = join(dataDir, `b-${process.pid}-host-1-efgh`);
    mkdirSync(stale);
    mkdirSync(live);
    // Stands in for a Chromium the predecessor left: same --user-data-dir shape.
    const straggler = spawn(
      process.execPath,
      ['-e', 'setTimeout(() => {}, 30000)', '--', `--user-data-dir=${stale}`],
      {
        stdio: 'ignore',
      },
    );
    await until(() => isAlive(straggler.pid ?? 0), Boolean, 2000);
    const result = sweepLeftovers(dataDir);
    expect(result).toEqual({ killed: 1, removed: 1 });
    expect(
      await until(
        () => isAlive(straggler.pid ?? 0),
        (alive) => !alive,
        2000,
      ),
    ).toBe(false);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });
});

describe('start-up sweep of embedded NATS stores', () => {
  it('ends a dead predecessor’s nats-server and removes its store (saved state lived there)', async () => {
    const dataDir = mkdtempSync(join(TEST_ROOT, 'sweep-'));
    const deadOwner = 2 ** 22 + 23456;
    const stale = join(dataDir, `nats-${deadOwner}-node-a`);
    const live = join(dataDir, `nats-${process.pid}-node-a`);
    mkdirSync(stale);
    mkdirSync(live);
    // Stands in for the nats-server it left: the same `-c <store>/nats-server.conf` shape.
    const straggler = spawn(
      process.execPath,
      ['-e', 'setTimeout(() => {}, 30000)', '--', '-c', join(stale, 'nats-server.conf')],
      { stdio: 'ignore' },
    );
    await until(() => isAlive(straggler.pid ?? 0), Boolean, 2000);
    expect(sweepLeftovers(dataDir)).toEqual({ killed: 1, removed: 1 });
    expect(
      await until(
        () => isAlive(straggler.pid ?? 0),
        (alive) => !alive,
        2000,
      ),
    ).toBe(false);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });
});
