import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCastpool } from '../helpers/app.js';
import { isAlive } from '../helpers/processes.js';
import { startTestPages } from '../helpers/test-pages.js';
import { until } from '../helpers/viewer.js';

let pages: Awaited<ReturnType<typeof startTestPages>>;

beforeAll(async () => {
  pages = await startTestPages();
});

afterAll(async () => {
  await pages?.close();
});

describe('a browser crash and a shutdown, with real Chromium', () => {
  it('fails every session of a crashed browser with the reason and places new ones on a new browser', async () => {
    const castpool = await startCastpool({ sessionsPerBrowser: 2 });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) {
        const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') });
        expect(created.status).toBe(201);
        ids.push(created.json.id);
      }
      const [browser] = castpool.castpool.processes.list().filter((p) => p.kind === 'chromium');
      expect(castpool.castpool.processes.list().filter((p) => p.kind === 'chromium')).toHaveLength(1);
      process.kill(browser?.pid ?? 0, 'SIGKILL');
      for (const id of ids) {
        const failed = await until(
          async () => (await castpool.api('GET', `/api/sessions/${id}`)).json,
          (s) => s.state === 'failed',
          10_000,
        );
        expect(failed.state).toBe('failed');
        expect(failed.failure).toMatch(/browser process exited unexpectedly/);
      }
      const info = await castpool.api('GET', '/api/info');
      expect(info.json.capacity.active).toBe(0);
      expect(info.json.sessionsByState).toEqual({ failed: 2 });

      const replacement = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') });
      expect(replacement.status).toBe(201);
      expect(replacement.json.state).toBe('idle');
      const chromiums = castpool.castpool.processes.list().filter((p) => p.kind === 'chromium');
      expect(chromiums).toHaveLength(1);
      expect(chromiums[0]?.pid).not.toBe(browser?.pid);
      for (const id of ids) expect((await castpool.api('DELETE', `/api/sessions/${id}`)).status).toBe(204);
    } finally {
      await castpool.close();
    }
  });

  it('closes every session and process on shutdown', async () => {
    const castpool = await startCastpool({ sessionsPerBrowser: 1 });
    for (let i = 0; i < 2; i++)
      expect((await castpool.api('POST', '/api/sessions', { url: pages.url('/animated') })).status).toBe(201);
    const pids = castpool.castpool.processes.list().map((p) => p.pid);
    expect(pids).toHaveLength(2);
    await castpool.close();
    expect(pids.filter(isAlive)).toEqual([]);
    expect(castpool.castpool.processes.list()).toEqual([]);
  });
});
