import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionPageOf, startCastpool } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';
import { launchViewerBrowser, openViewPage, until, viewerStats } from '../helpers/viewer.js';

let pages: Awaited<ReturnType<typeof startTestPages>>;

beforeAll(async () => {
  pages = await startTestPages();
});

afterAll(async () => {
  await pages?.close();
});

type Castpool = Awaited<ReturnType<typeof startCastpool>>;

/**
 * Animation frames each session's page draws in the same one-second window (its compositor's rate).
 * Measured side by side, once every page has loaded, so both see the same load on a busy machine.
 */
async function animationFramesPerSecond(castpool: Castpool, ...ids: string[]) {
  const pages = ids.map((id) => sessionPageOf(castpool, id));
  // The session answers once its page is placed; the page may still be on its way to the URL.
  for (const page of pages)
    await until(
      () => page.evaluate(() => document.title).catch(() => ''),
      (title) => title === 'animated',
      10_000,
    );
  return Promise.all(pages.map((page) => rate(page)));
}

function rate(page: ReturnType<typeof sessionPageOf>) {
  return page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        let frames = 0;
        const start = performance.now();
        const tick = (now: number) => {
          frames++;
          if (now - start < 1000) requestAnimationFrame(tick);
          else resolve((frames * 1000) / (now - start));
        };
        requestAnimationFrame(tick);
      }),
  );
}

describe('render rate: browsers composite at the rate their sessions are captured at', () => {
  it('draws a 30 FPS session at half the rate of a 60 FPS one, which still streams (renderRate capture)', async () => {
    const castpool = await startCastpool({ sessionsPerBrowser: 4 });
    const viewers = await launchViewerBrowser();
    try {
      const create = async (fps: number) =>
        (await castpool.api('POST', '/api/sessions', { url: pages.url('/animated'), fps })).json as {
          id: string;
          links: { view: string };
        };
      const slow = await create(30);
      const fast = await create(60);
      const hostOf = (id: string) => castpool.castpool.pool.getSnapshot().context.sessions[id]?.hostId;
      expect(hostOf(slow.id)).not.toBe(hostOf(fast.id));
      const [slowRate, fastRate] = (await animationFramesPerSecond(castpool, slow.id, fast.id)) as [
        number,
        number,
      ];
      console.log(
        `render rate: 30 FPS session ${slowRate.toFixed(1)}/s, 60 FPS session ${fastRate.toFixed(1)}/s`,
      );
      // The direction, not a number (a busy machine misses beats at either rate).
      expect(slowRate).toBeLessThan(fastRate * 0.75);
      // The 30 Hz page still streams to a viewer.
      const view = await openViewPage(viewers, slow.links.view);
      const decoded = await until(
        () => viewerStats(view),
        (s) => s.framesDecoded > 10,
        10_000,
      );
      expect(decoded.framesDecoded).toBeGreaterThan(10);
    } finally {
      await viewers.close();
      await castpool.close();
    }
  });

  it('draws every session at 60 Hz, in shared browsers, under renderRate display', async () => {
    const castpool = await startCastpool({ renderRate: 'display', sessionsPerBrowser: 4 });
    try {
      const create = async (fps: number) =>
        (await castpool.api('POST', '/api/sessions', { url: pages.url('/animated'), fps })).json.id as string;
      const [slow, fast] = [await create(30), await create(60)];
      const hostOf = (id: string) => castpool.castpool.pool.getSnapshot().context.sessions[id]?.hostId;
      expect(hostOf(slow)).toBe(hostOf(fast));
      const [slowRate, fastRate] = (await animationFramesPerSecond(castpool, slow, fast)) as [number, number];
      console.log(
        `render rate (display): 30 FPS session ${slowRate.toFixed(1)}/s, 60 FPS ${fastRate.toFixed(1)}/s`,
      );
      expect(slowRate).toBeGreaterThan(fastRate * 0.75);
    } finally {
      await castpool.close();
    }
  });
});
