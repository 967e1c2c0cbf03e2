import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BrowserContext, Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCastpool } from '../helpers/app.js';
import { avOffsets, median, watchOnsets } from '../helpers/av-sync.js';
import { startTestPages } from '../helpers/test-pages.js';
import { TEST_ROOT } from '../helpers/test-root.js';
import { launchViewerBrowser, openViewPage, until, viewerStats } from '../helpers/viewer.js';

let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;
let viewers: BrowserContext;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  pages = await startTestPages();
  castpool = await startCastpool();
  viewers = await launchViewerBrowser();
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

afterAll(async () => {
  await viewers?.close();
  await castpool?.close();
  await pages?.close();
});

/** A session of the /tone page (beeps) and a view page decoding it. */
async function watchTone(extra: Record<string, unknown>, period = 500) {
  const created = await castpool.api('POST', '/api/sessions', {
    url: pages.url(`/tone?period=${period}`),
    viewport: { width: 640, height: 360 },
    ...extra,
  });
  expect(created.status).toBe(201);
  const id = created.json.id as string;
  cleanup.push(() => castpool.api('DELETE', `/api/sessions/${id}`));
  const view = await openViewPage(viewers, created.json.links.view);
  cleanup.push(() => view.close());
  const decoding = await until(
    () => viewerStats(view),
    (s) => s.framesDecoded > 3,
    20_000,
  );
  expect(decoding.framesDecoded).toBeGreaterThan(3);
  return { id, view };
}

/** The view page's received audio: its receiver's own counters. */
const receivedAudio = (view: Page) =>
  view.evaluate(async () => {
    const pc = (window as unknown as { castpoolPc: RTCPeerConnection }).castpoolPc;
    for (const report of (await pc.getStats()).values())
      if (report.type === 'inbound-rtp' && report.kind === 'audio')
        return {
          packets: (report.packetsReceived as number) ?? 0,
          samples: (report.totalSamplesReceived as number) ?? 0,
          energy: (report.totalAudioEnergy as number) ?? 0,
        };
    return undefined;
  });

describe('the page’s sound (audio: true, tab capture)', () => {
  it('reaches the viewer as Opus, muted in the view page until the person unmutes', async () => {
    const { view } = await watchTone({ audio: true });
    const first = await until(
      () => receivedAudio(view),
      (a) => (a?.packets ?? 0) > 50,
      10_000,
    );
    expect(first?.packets).toBeGreaterThan(50);
    expect((await viewerStats(view)).audio).toMatchObject({ track: true, muted: true });
    expect(await view.$eval('#sound', (button) => (button as HTMLButtonElement).hidden)).toBe(false);
    // The page's AudioContext starts on a user's gesture (Chromium's autoplay policy, as on a
    // desktop): the person's click in the view page is one.
    const box = await view.$eval('#video', (video) => video.getBoundingClientRect().toJSON());
    await view.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    // The player's own counters measure what it plays: heard once unmuted.
    await view.click('#sound');
    expect((await viewerStats(view)).audio.muted).toBe(false);
    expect(await view.$eval('#video', (video) => (video as HTMLVideoElement).muted)).toBe(false);
    const loud = await until(
      () => receivedAudio(view),
      (a) => (a?.energy ?? 0) > 0.01,
      10_000,
    );
    expect(loud?.energy).toBeGreaterThan(0.01);
    expect(loud?.samples).toBeGreaterThan(first?.samples ?? 0);
  });

  it("carries a page's own <audio> element too, once a viewer's click lets it play", async () => {
    const created = await castpool.api('POST', '/api/sessions', {
      url: pages.url('/media-sound'),
      viewport: { width: 640, height: 360 },
      audio: true,
    });
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    cleanup.push(() => castpool.api('DELETE', `/api/sessions/${id}`));
    const view = await openViewPage(viewers, created.json.links.view);
    cleanup.push(() => view.close());
    await until(
      () => viewerStats(view),
      (s) => s.framesDecoded > 0 && s.control === 'open',
      20_000,
    );
    await view.click('#sound'); // unmuted: the player's counters measure what it plays
    const box = await view.$eval('#video', (video) => video.getBoundingClientRect().toJSON());
    await view.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    const loud = await until(
      () => receivedAudio(view),
      (a) => (a?.energy ?? 0) > 0.01,
      15_000,
    );
    expect(loud?.energy).toBeGreaterThan(0.01);
  });

  it('keeps picture and sound together: every beep is seen and heard, the offset measured', async () => {
    const { view } = await watchTone({ audio: true }, 1000);
    const box = await view.$eval('#video', (video) => video.getBoundingClientRect().toJSON());
    await view.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await until(
      () => receivedAudio(view),
      (a) => (a?.energy ?? 0) > 0.01,
      10_000,
    );
    const onsets = await watchOnsets(view, 6000);
    const offsets = avOffsets(onsets, 1000);
    console.log(
      `audio/video: ${onsets.seen.length} flashes seen, ${onsets.heard.length} beeps heard, sound − picture median ${Math.round(median(offsets))} ms (${offsets.map(Math.round).join(', ')})`,
    );
    expect(onsets.seen.length).toBeGreaterThanOrEqual(4);
    expect(onsets.heard.length).toBeGreaterThanOrEqual(4);
    // Each flash has its beep within half a period (a lost or drifting track would not pair up).
    expect(offsets.length).toBeGreaterThanOrEqual(onsets.seen.length - 1);
  });

  it('is recorded with the picture: the file has an Opus track as long as its video, and decodes cleanly', async () => {
    const { id, view } = await watchTone({ audio: true });
    const box = await view.$eval('#video', (video) => video.getBoundingClientRect().toJSON());
    await view.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    const started = await castpool.api('POST', `/api/sessions/${id}/recordings`);
    expect(started.status, started.text).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const stopped = await castpool.api('DELETE', `/api/sessions/${id}/recordings/rec-1`);
    expect(stopped.json).toMatchObject({ removed: false, recording: { state: 'completed' } });
    const file = await fetch(`${castpool.base}/api/sessions/${id}/recordings/rec-1`);
    expect(file.status).toBe(200);
    const dir = mkdtempSync(join(TEST_ROOT, 'audio-recording-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'rec-1.mkv');
    writeFileSync(path, Buffer.from(await file.arrayBuffer()));
    const run = promisify(execFile);
    const { stdout } = await run('ffprobe', [
      ...['-v', 'error', '-show_entries', 'stream=codec_type,codec_name:stream_tags=DURATION', '-of', 'json'],
      path,
    ]);
    const streams = (
      JSON.parse(stdout) as {
        streams: { codec_type: string; codec_name: string; tags?: { DURATION?: string } }[];
      }
    ).streams;
    expect(streams.map((s) => `${s.codec_type}/${s.codec_name}`).sort()).toEqual([
      'audio/opus',
      'video/h264',
    ]);
    const seconds = (duration = '') =>
      duration.split(':').reduce((total, part) => total * 60 + Number(part), 0);
    const [video, audio] = ['video', 'audio'].map((type) =>
      seconds(streams.find((s) => s.codec_type === type)?.tags?.DURATION),
    );
    expect(video).toBeGreaterThan(3);
    expect(Math.abs((audio ?? 0) - (video ?? 0))).toBeLessThan(0.5);
    const decoded = await run('ffmpeg', ['-v', 'error', '-i', path, '-map', '0:a', '-f', 'null', '-']);
    expect(decoded.stderr).toBe('');
  });

  it('has no audio at all when the session did not ask for it', async () => {
    const { id, view } = await watchTone({});
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await receivedAudio(view)).toBeUndefined();
    expect((await viewerStats(view)).audio.track).toBe(false);
    const detail = await castpool.api('GET', `/api/sessions/${id}`);
    expect(detail.json.audio).toBe(false);
  });

  it('is refused for a screencast session, which carries no sound (400)', async () => {
    const refused = await castpool.api('POST', '/api/sessions', {
      url: pages.url('/tone'),
      capture: 'screencast',
      audio: true,
    });
    expect(refused.status).toBe(400);
    expect(refused.json.message).toMatch(/audio needs capture "tab"/);
  });
});
