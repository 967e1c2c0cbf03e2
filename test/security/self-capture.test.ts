import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionPageOf, startCastpool } from '../helpers/app.js';
import { launchViewerBrowser, openViewPage, until, viewerStats } from '../helpers/viewer.js';

// A page that tries to capture its own tab (to read the pixels of a cross-origin page it frames):
// without a gesture, in a click handler, through an about:blank iframe's realm, with and without
// preferCurrentTab (a picker request, which headless never answers, is tried last: a pending picker
// holds the page's input). Every attempt is refused or never answered, while castpool's own capture
// of that same tab streams to a real viewer.

const ATTACKER = `<!doctype html><title>attacker</title><body style="background:#0a0">
<iframe id="f" src="about:blank"></iframe>
<script>
  window.results = [];
  async function attempt(label, media, options) {
    try {
      const stream = await Promise.race([
        media.getDisplayMedia(options),
        new Promise((_, reject) => setTimeout(() => reject(new Error('no answer')), 3000)),
      ]);
      window.results.push(label + ':GRANTED');
      stream.getTracks().forEach((t) => t.stop());
    } catch (error) {
      window.results.push(label + ':' + (error.name === 'Error' ? error.message : error.name));
    }
  }
  const own = navigator.mediaDevices;
  attempt('load-current', own, { video: true, preferCurrentTab: true });
  attempt('iframe-current', document.getElementById('f').contentWindow.navigator.mediaDevices, { video: true, preferCurrentTab: true });
  window.clicks = 0;
  addEventListener('mousedown', () => {
    window.clicks++;
    attempt('click-current', own, { video: true, preferCurrentTab: true });
    attempt('click-picker', own, { video: true, selfBrowserSurface: 'include' });
  });
</script></body>`;

let site: Server;
let siteUrl = '';
let castpool: Awaited<ReturnType<typeof startCastpool>>;
let viewers: BrowserContext;

beforeAll(async () => {
  site = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' }).end(ATTACKER);
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
  castpool = await startCastpool();
  viewers = await launchViewerBrowser();
});
afterAll(async () => {
  await viewers?.close();
  await castpool?.close();
  site?.close();
});

describe('a page capturing itself', () => {
  it('is refused every way it tries, while castpool’s own capture of it streams', async () => {
    const created = await castpool.api('POST', '/api/sessions', { url: siteUrl, capture: 'tab' });
    expect(created.status).toBe(201);
    const view = await openViewPage(viewers, created.json.links.view);
    await until(
      () => viewerStats(view),
      (s) => s.framesDecoded > 0,
      15_000,
    );
    const page = sessionPageOf(castpool, created.json.id);
    // A real gesture, as a controlling viewer's click is (CDP Input events, like remote control).
    const entry = castpool.castpool.pool.getSnapshot().context.sessions[created.json.id];
    const { cdp } = (entry as NonNullable<typeof entry>).ref.getSnapshot().context.page as unknown as {
      cdp: import('puppeteer-core').CDPSession;
    };
    for (const type of ['mousePressed', 'mouseReleased'] as const)
      await cdp.send('Input.dispatchMouseEvent', { type, x: 600, y: 400, button: 'left', clickCount: 1 });
    expect(await page.evaluate(() => (window as unknown as { clicks: number }).clicks)).toBe(1);
    const results = await until(
      () => page.evaluate(() => (window as unknown as { results: string[] }).results),
      (r) => r.length >= 4,
      10_000,
    );
    console.log(`self-capture attempts: ${results.join(', ')}`);
    expect(results).toHaveLength(4);
    for (const result of results) expect(result).not.toMatch(/GRANTED/);
    // castpool's capture kept streaming the tab throughout
    const before = (await viewerStats(view)).framesDecoded;
    await until(
      async () => (await viewerStats(view)).framesDecoded,
      (n) => n > before,
      5000,
    );
    expect((await viewerStats(view)).framesDecoded).toBeGreaterThan(before);
    await view.close();
    await castpool.api('DELETE', `/api/sessions/${created.json.id}`);
  });
});
