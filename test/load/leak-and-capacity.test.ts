import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCastpool } from '../helpers/app.js';
import { processesMatching } from '../helpers/processes.js';
import { startTestPages } from '../helpers/test-pages.js';
import { until } from '../helpers/viewer.js';

const CYCLES = Number(process.env.LEAK_CYCLES ?? 200);
let pages: Awaited<ReturnType<typeof startTestPages>>;

beforeAll(async () => {
  pages = await startTestPages();
});

afterAll(async () => {
  await pages?.close();
});

const openFds = () => readdirSync('/proc/self/fd').length;

describe('load', () => {
  it(`returns to baseline after ${CYCLES} create/delete cycles (processes, fds, profiles, heap)`, async () => {
    const castpool = await startCastpool({ sessionsPerBrowser: 2, supervision: { browserLingerMs: 0 } });
    try {
      const warm = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') });
      await castpool.api('DELETE', `/api/sessions/${warm.json.id}`);
      const baseline = {
        processes: processesMatching(castpool.dataDir).length,
        fds: openFds(),
        profiles: readdirSync(castpool.dataDir).length,
        heapMb: process.memoryUsage().heapUsed / 2 ** 20,
      };
      for (let i = 0; i < CYCLES; i++) {
        const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') });
        expect(created.status).toBe(201);
        expect((await castpool.api('DELETE', `/api/sessions/${created.json.id}`)).status).toBe(204);
        if (i % 25 === 0) process.stderr.write(`leak check: ${i}/${CYCLES}\n`);
      }
      const after = await until(
        () => ({
          processes: processesMatching(castpool.dataDir).length,
          fds: openFds(),
          profiles: readdirSync(castpool.dataDir).length,
          heapMb: process.memoryUsage().heapUsed / 2 ** 20,
        }),
        (now) => now.processes === baseline.processes && now.profiles === baseline.profiles,
        10_000,
      );
      console.log(`leak check: before ${JSON.stringify(baseline)} after ${JSON.stringify(after)}`);
      expect(after.processes).toBe(baseline.processes);
      expect(after.profiles).toBe(baseline.profiles);
      expect(after.fds).toBeLessThanOrEqual(baseline.fds + 10);
      expect(after.heapMb).toBeLessThan(baseline.heapMb + 64);
    } finally {
      await castpool.close();
    }
  });

  it('admits sessions up to capacity, answers 429 past it, and never runs more browsers than needed', async () => {
    const castpool = await startCastpool({
      maxSessions: 8,
      sessionsPerBrowser: 4,
      supervision: { browserLingerMs: 0 },
    });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) {
        const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') });
        expect(created.status).toBe(201);
        ids.push(created.json.id);
      }
      const refused = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBeTruthy();
      expect(castpool.castpool.processes.list().filter((p) => p.kind === 'chromium')).toHaveLength(2);
    } finally {
      await castpool.close();
    }
  });
});
