import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepLeftovers } from '../../src/processes/leftovers.js';
import { isAlive } from '../helpers/processes.js';
import { TEST_ROOT } from '../helpers/test-root.js';
import { until } from '../helpers/viewer.js';

const DEAD_OWNER = 2 ** 22 + 12345; // above pid_max defaults: never a running process

/**
 * A dead predecessor left `stale/` and a process whose arguments name it (`args`); this service
 * has `live/`. The sweep ends the process and removes `stale/` only.
 */
async function expectSweep(prefix: string, args: (stale: string) => string[]): Promise<void> {
  const dataDir = mkdtempSync(join(TEST_ROOT, 'sweep-'));
  const stale = join(dataDir, `${prefix}-${DEAD_OWNER}-node-abcd`);
  const live = join(dataDir, `${prefix}-${process.pid}-node-efgh`);
  mkdirSync(stale);
  mkdirSync(live);
  const straggler = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', '--', ...args(stale)], {
    stdio: 'ignore',
  });
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
}

describe('start-up sweep', () => {
  it('ends processes and removes profiles of a dead predecessor, and nothing of a live one', async () => {
    // Stands in for a Chromium the predecessor left: same --user-data-dir shape.
    await expectSweep('b', (stale) => [`--user-data-dir=${stale}`]);
  });

  it('ends a dead predecessor’s nats-server and removes its store (saved state lived there)', async () => {
    // Stands in for the nats-server it left: the same `-c <store>/nats-server.conf` shape.
    await expectSweep('nats', (stale) => ['-c', join(stale, 'nats-server.conf')]);
  });
});
