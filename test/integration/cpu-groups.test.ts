import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharesFor } from '../../src/processes/cpu-groups.js';
import { pidsInGroups } from '../../src/processes/tracker.js';
import { startCastpool } from '../helpers/app.js';
import { isAlive } from '../helpers/processes.js';
import { startTestPages } from '../helpers/test-pages.js';

let pages: Awaited<ReturnType<typeof startTestPages>>;

beforeAll(async () => {
  pages = await startTestPages();
});

afterAll(async () => {
  await pages?.close();
});

describe('browsers in CPU groups weighted by priority (cgroup v1, where the host allows it)', () => {
  it('places each browser with all its processes in a group of its own, weighs it by its session, and removes it with the browser', async (context) => {
    const castpool = await startCastpool({ sessionsPerBrowser: 1, supervision: { browserLingerMs: 0 } });
    try {
      const { cpuGroups, processes } = castpool.castpool;
      if (cpuGroups.unavailable) context.skip(`cgroups unavailable here: ${cpuGroups.unavailable}`);
      const create = async (priority: number) =>
        (await castpool.api('POST', '/api/sessions', { url: pages.url('/animated'), priority })).json
          .id as string;
      const [high, low] = [await create(8), await create(2)];
      const hostOf = (id: string) =>
        castpool.castpool.pool.getSnapshot().context.sessions[id]?.hostId as string;
      const groupOf = (id: string) => cpuGroups.dirOf(hostOf(id)) as string;
      for (const [id, priority] of [
        [high, 8],
        [low, 2],
      ] as const) {
        const dir = groupOf(id);
        expect(readFileSync(join(dir, 'cpu.shares'), 'utf8').trim()).toBe(String(sharesFor(priority)));
        // The browser and every process it forked since (renderers, GPU, utility) are in its group.
        const browser = processes.list().find((p) => p.kind === 'chromium' && p.owner === hostOf(id));
        // The family first, the group's list after: a process Chromium forks in between (a spare
        // renderer) is then in the list and not in the family, never the other way round.
        const family = pidsInGroups([browser?.pid ?? -1]);
        const inGroup = readFileSync(join(dir, 'cgroup.procs'), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map(Number);
        expect(family.length).toBeGreaterThan(2);
        // Live ones: an exited child waiting for its parent (a zombie) is in no cgroup any more.
        expect(family.filter((pid) => !inGroup.includes(pid) && isAlive(pid))).toEqual([]);
      }
      const lowGroup = groupOf(low);
      expect((await castpool.api('DELETE', `/api/sessions/${low}`)).status).toBe(204);
      for (let i = 0; i < 50 && existsSync(lowGroup); i++) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(lowGroup)).toBe(false);
      expect(existsSync(groupOf(high))).toBe(true);
    } finally {
      await castpool.close();
    }
  });

  it('starts and serves sessions where the host has no cgroups', async () => {
    const castpool = await startCastpool({ cgroupRoot: '/nonexistent' });
    try {
      expect(castpool.castpool.cpuGroups.unavailable).toMatch(/nonexistent/);
      const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') });
      expect(created.status).toBe(201);
    } finally {
      await castpool.close();
    }
  });
});
