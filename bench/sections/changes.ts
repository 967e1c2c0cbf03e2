import type { Page } from 'puppeteer-core';
import { launchBenchBrowser, openWatching } from '../browser.js';
import { FLIP_PERIOD_MS } from '../pages.js';
import { type BenchSection, n } from '../section.js';
import {
  log,
  nodeCpuSeconds,
  percentile,
  SECONDS,
  sleep,
  startedCpuSeconds,
  startService,
  WARMUP_MS,
} from '../util.js';

/**
 * For each change of the /flips page a viewer shows: ms from the change (the wall clock's multiple of
 * the period, when the page flips) to the frame's expected display time, and ms the player held the
 * frame after its last packet came (expected display − receive time). Frames presented per second.
 */
async function watchChanges(view: Page, ms: number) {
  await view.evaluate('globalThis.__name = (fn) => fn'); // tsx's keepNames helper, absent in the page
  return view.evaluate(
    async (ms, period) => {
      const video = document.getElementById('video') as HTMLVideoElement;
      const drawing = new OffscreenCanvas(8, 8).getContext('2d', { willReadFrequently: true });
      const shownAfterMs: number[] = [];
      const heldMs: number[] = [];
      let white: boolean | undefined;
      let frames = 0;
      let done = false;
      const onFrame = (_: number, frame: { expectedDisplayTime: number; receiveTime?: number }) => {
        frames++;
        drawing?.drawImage(video, 0, 0, 8, 8);
        const nowWhite = (drawing?.getImageData(4, 4, 1, 1).data[0] ?? 0) > 128;
        if (white !== undefined && nowWhite !== white) {
          const shownAt = performance.timeOrigin + frame.expectedDisplayTime;
          shownAfterMs.push(shownAt - Math.floor(shownAt / period) * period);
          if (frame.receiveTime !== undefined) heldMs.push(frame.expectedDisplayTime - frame.receiveTime);
        }
        white = nowWhite;
        if (!done) video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
      await new Promise((resolve) => setTimeout(resolve, ms));
      done = true;
      return { shownAfterMs, heldMs, frames };
    },
    ms,
    FLIP_PERIOD_MS,
  );
}

/** One watched session of the /flips page with the given playout-delay limit. */
async function flipsSession(url: string, capture: 'tab' | 'screencast', maxPlayoutDelayMs: number) {
  const { app, castpool, commands, base } = await startService({ webrtc: { maxPlayoutDelayMs } });
  const viewer = await launchBenchBrowser();
  try {
    const session = await commands.sessions.create({
      url,
      fps: 30,
      viewport: { width: 640, height: 360 },
      capture,
    });
    const page = await openWatching(viewer, `${base}/api/sessions/${session.id}/view`);
    await sleep(WARMUP_MS);
    const node0 = nodeCpuSeconds();
    const children0 = startedCpuSeconds(castpool);
    const t0 = performance.now();
    // At least 6 changes whatever BENCH_SECONDS says.
    const watched = await watchChanges(page, Math.max(SECONDS, 12) * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = nodeCpuSeconds() - node0 + (startedCpuSeconds(castpool) - children0);
    const { shownAfterMs: shown, heldMs: held } = watched;
    return {
      changes: shown.length,
      expectedChanges: Math.floor((elapsed * 1000) / FLIP_PERIOD_MS),
      shownMsP50: percentile(shown, 50),
      shownMsP90: percentile(shown, 90),
      shownMsMax: shown.length ? Math.max(...shown) : undefined,
      heldMsP50: percentile(held, 50),
      heldMsMax: held.length ? Math.max(...held) : undefined,
      framesPerSecond: watched.frames / elapsed,
      sessionCpuPct: (cpu / elapsed) * 100,
    };
  } finally {
    await viewer.close();
    await app.close();
  }
}

type ChangesData = Record<string, Awaited<ReturnType<typeof flipsSession>>>;

export const changesSection: BenchSection<ChangesData> = {
  name: 'changes',
  async run(pages) {
    const rows: ChangesData = {};
    for (const capture of ['tab', 'screencast'] as const)
      for (const maxPlayoutDelayMs of [0, 100]) {
        const name = `${capture}, maxPlayoutDelayMs ${maxPlayoutDelayMs}`;
        log(`changes: ${name}…`);
        rows[name] = await flipsSession(pages.flipsUrl, capture, maxPlayoutDelayMs);
      }
    return rows;
  },
  render(data, when) {
    const rows = Object.entries(data).map(
      ([name, r]) =>
        `| ${name} | ${r.changes} of ${r.expectedChanges} | ${n(r.shownMsP50)} | ${n(r.shownMsP90)} | ${n(r.shownMsMax)} | ${n(r.heldMsP50)} | ${n(r.heldMsMax)} | ${n(r.framesPerSecond, 1)} | ${n(r.sessionCpuPct, 1)} % |`,
    );
    return `## Changes on a still page: how soon a viewer sees them ${when}
One session (640×360, 30 FPS) of a page where nothing moves except that it turns white or black every
${FLIP_PERIOD_MS / 1000} s, watched by a real Chromium viewer (castpool's view page). For each change the viewer shows: *shown
after* = the frame's expected display time − the moment the page changed (the same clock); *held* =
expected display time − the time its last packet arrived (what the player waited on its own).
\`webrtc.maxPlayoutDelayMs\` 0 leaves the player to its jitter buffer; 100 (the default) sends the
playout-delay RTP header extension "show within 100 ms". Tab capture sends about one frame a second
on such a page; castpool's screencast repeats frames itself. Session CPU = its Chromium, ffmpeg and
castpool's Node.

| variant | changes shown | shown after p50 ms | p90 | max | held p50 ms | held max | frames/s shown | session CPU |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}`;
  },
};
