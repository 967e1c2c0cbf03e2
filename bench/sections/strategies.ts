import type { CaptureStrategy } from '../../src/machines/types.js';
import { launchBenchBrowser, openWatching } from '../browser.js';
import { sessionPageOf } from '../capacity.js';
import { SMALL_TIMECODE, TIMECODE } from '../pages.js';
import { type BenchSection, n } from '../section.js';
import {
  groupCpuSeconds,
  log,
  nodeCpuSeconds,
  percentile,
  SECONDS,
  sleep,
  startedCpuSeconds,
  startService,
  VIEWPORT,
  WARMUP_MS,
} from '../util.js';

const SMALL_VIEWPORT = { width: 640, height: 360 };

/** The whole castpool pipeline, with a real Chromium viewer over WHEP: FPS, CPU split, glass-to-glass latency. */
async function pipeline(
  url: string,
  fps: number,
  capture: CaptureStrategy,
  viewport = VIEWPORT,
  timecode = TIMECODE,
  /** The playout-delay limit sent to the viewer (undefined: the default, 100 ms). */
  maxPlayoutDelayMs?: number,
) {
  const { app, castpool, commands, base } = await startService(
    maxPlayoutDelayMs === undefined ? {} : { webrtc: { maxPlayoutDelayMs } },
  );
  const viewer = await launchBenchBrowser();
  try {
    const session = await commands.sessions.create({ url, fps, viewport, capture });
    const fanout = sessionPageOf(castpool, session.id).fanout;
    await sleep(WARMUP_MS);
    const page = await openWatching(viewer, `${base}/api/sessions/${session.id}/view`);
    await page.evaluate('globalThis.__name = (fn) => fn'); // tsx's keepNames helper, absent in the page
    await page.evaluate((T) => {
      // Read the time code from each received frame and compare it with this clock.
      const video = document.querySelector('video') as HTMLVideoElement;
      const rows = T.y0 * 2 + T.size;
      const canvas = document.createElement('canvas');
      const ctx = canvas.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D;
      const samples: number[] = [];
      const state = { samples, unreadable: 0 };
      (window as unknown as { latency: typeof state }).latency = state;
      const tick = (now: number) => {
        canvas.width = video.videoWidth;
        canvas.height = rows;
        ctx.drawImage(video, 0, 0, video.videoWidth, rows, 0, 0, video.videoWidth, rows);
        const { data } = ctx.getImageData(0, 0, canvas.width, rows);
        let code = 0;
        let parity = 0;
        for (let i = 0; i <= T.bits; i++) {
          const x = T.x0 + i * T.step + T.size / 2;
          const y = T.y0 + T.size / 2;
          const bit = (data[(y * canvas.width + x) * 4] as number) > 128 ? 1 : 0;
          if (i < T.bits) code |= bit << i;
          parity ^= bit;
        }
        if (parity === 0) {
          const mine = Math.round(performance.timeOrigin + now) % (1 << T.bits);
          samples.push((mine - code + (1 << T.bits)) % (1 << T.bits));
        } else state.unreadable++;
        video.requestVideoFrameCallback(tick);
      };
      video.requestVideoFrameCallback(tick);
    }, timecode);
    await sleep(WARMUP_MS);
    const readViewer = () =>
      page.evaluate(() => {
        const w = window as unknown as {
          castpoolViewer: { framesDecoded: number };
          latency: { samples: number[] };
        };
        return { frames: w.castpoolViewer.framesDecoded, samples: w.latency.samples.length };
      });
    const start = await readViewer();
    const node0 = nodeCpuSeconds();
    const ffmpeg = castpool.processes.list().find((p) => p.kind === 'ffmpeg');
    const ffmpeg0 = groupCpuSeconds(ffmpeg?.pid ?? -1);
    const children0 = startedCpuSeconds(castpool);
    const bytes0 = fanout.bytesOut;
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const end = await readViewer();
    const nodeCpu = nodeCpuSeconds() - node0;
    const ffmpegCpu = groupCpuSeconds(ffmpeg?.pid ?? -1) - ffmpeg0;
    const childrenCpu = startedCpuSeconds(castpool) - children0;
    const bytesPerSecond = (fanout.bytesOut - bytes0) / ((performance.now() - t0) / 1000);
    const latency = await page.evaluate(
      () => (window as unknown as { latency: { samples: number[]; unreadable: number } }).latency,
    );
    const measured = latency.samples.slice(start.samples).filter((ms) => ms < 10_000);
    const receiver = await page.evaluate(async () => {
      // The viewer's own account of where time goes (WebRTC stats, per frame).
      const pc = (window as unknown as { castpoolPc?: RTCPeerConnection }).castpoolPc;
      if (!pc) return undefined;
      for (const r of (await pc.getStats()).values()) {
        if (r.type !== 'inbound-rtp' || r.kind !== 'video') continue;
        const frames = r.framesDecoded || 1;
        return {
          jitterBufferMs: (r.jitterBufferDelay / (r.jitterBufferEmittedCount || 1)) * 1000,
          decodeMs: (r.totalDecodeTime / frames) * 1000,
          processingMs: ((r.totalProcessingDelay ?? 0) / frames) * 1000,
          assemblyMs: ((r.totalAssemblyTime ?? 0) / (r.framesAssembledFromMultiplePackets || 1)) * 1000,
          framesDropped: r.framesDropped ?? 0,
          nackCount: r.nackCount ?? 0,
          pliCount: r.pliCount ?? 0,
        };
      }
      return undefined;
    });
    const detail = commands.sessions.get({ id: session.id });
    const frames = end.frames - start.frames;
    return {
      viewerFps: frames / elapsed,
      state: detail.state,
      droppedFrames: detail.droppedFrames,
      nodeMsPerFrame: (nodeCpu * 1000) / frames,
      ffmpegMsPerFrame: (ffmpegCpu * 1000) / frames,
      nodeCpuPct: (nodeCpu / elapsed) * 100,
      ffmpegCpuPct: (ffmpegCpu / elapsed) * 100,
      chromiumCpuPct: ((childrenCpu - ffmpegCpu) / elapsed) * 100,
      sessionCpuPct: ((childrenCpu + nodeCpu) / elapsed) * 100,
      kbitPerSecond: (bytesPerSecond * 8) / 1000,
      latencyP50: percentile(measured, 50),
      latencyP95: percentile(measured, 95),
      latencySamples: measured.length,
      unreadableFrames: latency.unreadable,
      receiver,
    };
  } finally {
    await viewer.close();
    await app.close();
  }
}

type StrategyData = Record<string, Awaited<ReturnType<typeof pipeline>>>;

export const strategiesSection: BenchSection<StrategyData> = {
  name: 'strategies',
  async run(pages) {
    const rows: StrategyData = {};
    for (const [page, url] of [
      ['typical', pages.typicalTimecodeUrl],
      ['full-motion', pages.timecodeUrl],
    ] as const)
      for (const capture of ['screencast', 'tab'] as const) {
        log(`${capture} pipeline, ${page} page, 30 FPS, one Chromium viewer, ${SECONDS} s…`);
        rows[`${capture}/${page}`] = await pipeline(url, 30, capture);
      }
    // Asked for 60 FPS: what reaches a viewer, and how late (the 60 FPS target, side by side with 30).
    for (const capture of ['screencast', 'tab'] as const) {
      log(`${capture} pipeline, full-motion page, 60 FPS, one Chromium viewer, ${SECONDS} s…`);
      rows[`${capture}/full-motion @60`] = await pipeline(pages.timecodeUrl, 60, capture);
    }
    // A quarter of the pixels (640×360): what a smaller viewport buys at 30 and 60 FPS; and beside
    // each, the viewer left to its own jitter buffer (no playout-delay limit): what the limit buys.
    for (const fps of [30, 60])
      for (const maxPlayoutDelayMs of [undefined, 0]) {
        const name = `tab/full-motion 640×360${fps === 60 ? ' @60' : ''}${maxPlayoutDelayMs === 0 ? ', no playout limit' : ''}`;
        log(`${name}, one Chromium viewer, ${SECONDS} s…`);
        rows[name] = await pipeline(
          pages.smallTimecodeUrl,
          fps,
          'tab',
          SMALL_VIEWPORT,
          SMALL_TIMECODE,
          maxPlayoutDelayMs,
        );
      }
    return rows;
  },
  render(strategies, when) {
    const rows = Object.entries(strategies).map(
      ([name, p]) =>
        `| ${name} | ${n(p.viewerFps, 1)} | ${n(p.sessionCpuPct)} % | ${n(p.chromiumCpuPct)} / ${n(p.ffmpegCpuPct)} / ${n(p.nodeCpuPct)} % | ` +
        `${n(p.latencyP50)} / ${n(p.latencyP95)} ms | ${n(p.kbitPerSecond)} kbit/s | ${n(p.receiver?.jitterBufferMs, 1)} ms | ${p.state} |`,
    );
    return `## The two capture strategies, one watched session at 30 FPS (and 60: @60), a real Chromium viewer over WHEP ${when}
screencast = CDP JPEG → ffmpeg x264 → RTP → werift; tab = Chromium captures and encodes its own tab
(VP8) → upstream werift peer → werift. Session CPU = the session's Chromium + ffmpeg + castpool's Node
(the viewer's Chromium, on the same cores, is not counted). 1280×720 unless the row says otherwise.

| strategy/page | viewer FPS | session CPU | Chromium / ffmpeg / Node | glass-to-glass p50 / p95 | bitrate | viewer jitter buffer | state |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Latency: the page draws its wall clock as 24 black/white blocks plus parity on every frame; the viewer
reads them back from each decoded frame (\`requestVideoFrameCallback\` + canvas) and subtracts them from
its own clock (same machine, same clock). Every row but "no playout limit" sends the viewer the
playout-delay extension "show within 100 ms" (\`webrtc.maxPlayoutDelayMs\`, the default); those rows
run with it off (0), the player left to its own jitter buffer, side by side with the row above.`;
  },
};
