import type { BrowserContext, Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sessionPageOf, startCastpool, withApiTokens } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';
import {
  launchViewerBrowser,
  onPicture,
  openViewPage,
  until,
  videoColour,
  viewerStats,
} from '../helpers/viewer.js';

const TOKEN = 'remote-control-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;
let viewers: BrowserContext;
let session: { id: string; links: { view: string } };

beforeAll(async () => {
  pages = await startTestPages();
  castpool = await startCastpool({
    ...withApiTokens({ name: 'ops', token: TOKEN }),
  });
});

// Each test has its own session and viewer context: what one typed or resized never meets another.
beforeEach(async () => {
  viewers = await launchViewerBrowser();
  const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/control') }, auth);
  expect(created.status).toBe(201);
  session = created.json;
  await until(
    () =>
      sessionPageOf(castpool, session.id)
        .evaluate(() => document.readyState === 'complete' && document.title)
        .catch(() => false), // the first load is still committing
    (title) => title === 'control',
  );
});

afterEach(async () => {
  await viewers?.close();
  await castpool.api('DELETE', `/api/sessions/${session.id}`, undefined, auth);
});

afterAll(async () => {
  await castpool?.close();
  await pages?.close();
});

async function viewerWith(scope: 'view' | 'control'): Promise<Page> {
  const minted = await castpool.api('POST', `/api/sessions/${session.id}/viewer-tokens`, { scope }, auth);
  expect(minted.status).toBe(201);
  const page = await openViewPage(viewers, minted.json.viewUrl);
  const playing = await until(
    () => viewerStats(page),
    (s) => s.framesDecoded > 0 && s.width > 0,
    15_000,
  );
  expect(playing.framesDecoded, playing.error).toBeGreaterThan(0);
  return page;
}

const inSession = <T>(fn: () => T) => sessionPageOf(castpool, session.id).evaluate(fn);

describe('remote control over the WebRTC data channel', () => {
  it('a controlling viewer clicks and types in the page, and the video shows it', async () => {
    const viewer = await viewerWith('control');
    await until(
      () => viewerStats(viewer),
      (s) => (s as { control?: string }).control === 'open',
    );
    const before = await videoColour(viewer, 0.9, 0.1);
    expect(before.g).toBeGreaterThan(150);
    expect(before.r).toBeLessThan(100);

    const button = await onPicture(viewer, 0.25, 0.25);
    await viewer.mouse.click(button.x, button.y);
    const clicks = await until(
      () => inSession(() => (window as unknown as { clicks: number }).clicks),
      (n) => n > 0,
    );
    expect(clicks).toBe(1);
    expect(await inSession(() => document.body.style.background)).toMatch(/255, 0, 0|#ff0000|red/);
    const after = await until(
      () => videoColour(viewer, 0.9, 0.1),
      (c) => c.r > 150 && c.g < 100,
    );
    expect(after.r).toBeGreaterThan(150);
    expect(after.g).toBeLessThan(100);

    const field = await onPicture(viewer, 0.75, 0.65);
    await viewer.mouse.click(field.x, field.y);
    await until(
      () => inSession(() => document.activeElement?.id),
      (id) => id === 'input',
    );
    await viewer.keyboard.type('castpool!');
    await viewer.keyboard.press('Backspace');
    const typed = await until(
      () => inSession(() => (document.getElementById('input') as HTMLInputElement).value),
      (value) => value === 'castpool',
    );
    expect(typed).toBe('castpool');
    await viewer.close();
  });

  it('a view-only viewer watches but its input, even sent by hand, never reaches the page', async () => {
    const viewer = await viewerWith('view');
    const refused = await until(
      () => viewerStats(viewer),
      (s) => /refused/.test(String((s as { control?: string }).control)),
    );
    expect((refused as { control?: string }).control).toBe('refused: view-only token');
    const clicksBefore = await inSession(() => (window as unknown as { clicks: number }).clicks);
    const valueBefore = await inSession(() => (document.getElementById('input') as HTMLInputElement).value);
    const button = await onPicture(viewer, 0.25, 0.25);
    await viewer.mouse.click(button.x, button.y);
    await viewer.keyboard.type('nope');
    // A crafted player that ignores the refusal and writes to the channel itself.
    await viewer.evaluate(() => {
      const channel = (window as unknown as { castpoolControl: RTCDataChannel }).castpoolControl;
      channel.send(JSON.stringify({ t: 'text', text: 'sneaky' }));
      channel.send(
        JSON.stringify({ t: 'mouse', type: 'down', x: 0.25, y: 0.25, button: 'left', buttons: 1 }),
      );
      channel.send(JSON.stringify({ t: 'mouse', type: 'up', x: 0.25, y: 0.25, button: 'left' }));
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await inSession(() => (window as unknown as { clicks: number }).clicks)).toBe(clicksBefore);
    expect(await inSession(() => (document.getElementById('input') as HTMLInputElement).value)).toBe(
      valueBefore,
    );
    // It still watches: frames keep coming after all that.
    const framesNow = (await viewerStats(viewer)).framesDecoded;
    const later = await until(
      () => viewerStats(viewer),
      (s) => s.framesDecoded > framesNow,
      10_000,
    );
    expect(later.framesDecoded).toBeGreaterThan(framesNow);
    await viewer.close();
  });

  it('ignores malformed control messages and keeps streaming', async () => {
    const viewer = await viewerWith('control');
    await until(
      () => viewerStats(viewer),
      (s) => (s as { control?: string }).control === 'open',
    );
    // The text goes to the focused field: click into it first, as a user would.
    const field = await onPicture(viewer, 0.75, 0.65);
    await viewer.mouse.click(field.x, field.y);
    await until(
      () => inSession(() => document.activeElement?.id),
      (id) => id === 'input',
    );
    await viewer.evaluate(() => {
      const channel = (window as unknown as { castpoolControl: RTCDataChannel }).castpoolControl;
      for (const junk of [
        '{',
        '[]',
        '{"t":"mouse","type":"down","x":7,"y":0}',
        '{"t":"eval","code":"1"}',
        'x'.repeat(10000),
      ])
        channel.send(junk);
      channel.send(JSON.stringify({ t: 'text', text: '+ok' }));
    });
    const value = await until(
      () => inSession(() => (document.getElementById('input') as HTMLInputElement).value),
      (v) => v.endsWith('+ok'),
    );
    expect(value.endsWith('+ok')).toBe(true);
    const stats = await viewerStats(viewer);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await viewerStats(viewer)).framesDecoded).toBeGreaterThan(stats.framesDecoded);
    await viewer.close();
  });

  it('a controlling viewer resizes the viewport; the stream follows at the new size', async () => {
    const viewer = await viewerWith('control');
    await until(
      () => viewerStats(viewer),
      (s) => (s as { control?: string }).control === 'open',
    );
    await viewer.evaluate(() => {
      const channel = (window as unknown as { castpoolControl: RTCDataChannel }).castpoolControl;
      channel.send(JSON.stringify({ t: 'resize', width: 640, height: 480 }));
    });
    const resized = await until(
      () => viewerStats(viewer),
      (s) => s.width === 640 && s.height === 480,
      15_000,
    );
    expect([resized.width, resized.height]).toEqual([640, 480]);
    const view = await castpool.api('GET', `/api/sessions/${session.id}`, undefined, auth);
    expect(view.json.viewport).toEqual({ width: 640, height: 480 });
    expect(await inSession(() => [innerWidth, innerHeight])).toEqual([640, 480]);
    const before = (await viewerStats(viewer)).framesDecoded;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await viewerStats(viewer)).framesDecoded).toBeGreaterThan(before);
    await viewer.close();
  });
});
