import type { BrowserContext } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCastpool } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';
import { decodedFps, launchViewerBrowser, openViewPage, until, viewerStats } from '../helpers/viewer.js';

let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;
let viewers: BrowserContext;

beforeAll(async () => {
  pages = await startTestPages();
  // Stay throttled for 4 healthy windows, so the lowered rate can be measured.
  // The pool's budget stays out of it: this is the session's own throttling.
  castpool = await startCastpool({
    sessionsPerBrowser: 1,
    // A deep throttle (30 → 8 FPS): the drop and the recovery stay clear even on a slow day, when
    // the machine itself delivers only ~17 FPS.
    throttle: { leaveAfterWindows: 4, fpsFactor: 0.25 },
    captureBudget: { adaptive: false },
  });
  viewers = await launchViewerBrowser();
});

afterAll(async () => {
  await viewers?.close();
  await castpool?.close();
  await pages?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(['screencast', 'tab'] as const)('throttling a %s session', (capture) => {
  it('lowers the delivered rate while throttled and restores it after healthy windows', async () => {
    const created = await castpool.api('POST', '/api/sessions', {
      url: pages.url('/animated'),
      capture,
      fps: 30,
    });
    expect(created.status).toBe(201);
    const id: string = created.json.id;
    const view = await openViewPage(viewers, created.json.links.view);
    await until(
      () => viewerStats(view),
      (s) => s.framesDecoded > 30,
      10_000,
    );
    const ref = castpool.castpool.pool.getSnapshot().context.sessions[id]?.ref;
    // Overload is hard to cause on purpose; report it as the capture would, and let the real
    // machine drive the real capture (ffmpeg pacing, or setParameters in Chromium).
    const overloaded = {
      deliveredFps: 10,
      capturedFps: 60,
      offered: 30,
      busyDrops: 30,
      backlog: 0,
      droppedTotal: 0,
    };
    await sleep(2500); // past the warm-up windows
    ref?.send({ type: 'capture.stats', stats: overloaded });
    ref?.send({ type: 'capture.stats', stats: overloaded });
    const throttled = (await castpool.api('GET', `/api/sessions/${id}`)).json;
    expect(throttled).toMatchObject({ state: 'throttled', currentFps: 8 });
    await sleep(500);
    const slow = await decodedFps(view, 2000);
    const recovered = await until(
      async () => (await castpool.api('GET', `/api/sessions/${id}`)).json,
      (s) => s.state === 'streaming',
      10_000,
    );
    expect(recovered.currentFps).toBe(30);
    await sleep(1500);
    const fast = await decodedFps(view, 2000);
    console.log(`throttle ${capture}: ${slow.toFixed(1)} FPS while throttled, ${fast.toFixed(1)} FPS after`);
    // The rate moves the right way (numbers live in the bench): held near the throttled 8, then
    // clearly higher once the session streams at 30 again.
    expect(slow).toBeLessThan(12);
    expect(fast).toBeGreaterThan(slow * 1.5);
    await view.close();
    expect((await castpool.api('DELETE', `/api/sessions/${id}`)).status).toBe(204);
  });
});
