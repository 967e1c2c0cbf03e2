/**
 * castpool benchmark: the variants side by side, one run, same page, same machine.
 *   npm run bench            (BENCH_SECONDS=15 by default per variant)
 * Prints a table, writes bench/results/latest.json and BENCHMARKS.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page, type Protocol } from 'puppeteer-core';
import { CHROMIUM_FLAGS } from '../src/actors/chromium.js';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { LatestFrameSlot } from '../src/media/latest-frame-slot.js';
import { startBenchPages, TIMECODE } from './pages.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const WARMUP_MS = 1500;
const VIEWPORT = { width: 1280, height: 720 };
const root = mkdtempSync(join(tmpdir(), 'castpool-bench-'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
};
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** CPU seconds of every process in a process group (a detached Chromium or ffmpeg leads its own). */
function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks / 100; // USER_HZ
}
const nodeCpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

async function launch(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    ignoreDefaultArgs: ['--headless'],
    pipe: true,
    userDataDir: mkdtempSync(join(root, 'chromium-')),
    args: [...CHROMIUM_FLAGS, '--autoplay-policy=no-user-gesture-required'],
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
}

async function openPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport(VIEWPORT);
  await page.goto(url);
  await sleep(WARMUP_MS);
  return page;
}

/** The old way: a page.screenshot() loop, JPEG q80. */
async function screenshotLoop(url: string) {
  const browser = await launch();
  try {
    const page = await openPage(browser, url);
    const pgid = browser.process()?.pid ?? 0;
    const times: number[] = [];
    const cpu0 = groupCpuSeconds(pgid);
    const end = performance.now() + SECONDS * 1000;
    while (performance.now() < end) {
      const t0 = performance.now();
      await page.screenshot({ type: 'jpeg', quality: 80 });
      times.push(performance.now() - t0);
    }
    const chromiumCpu = groupCpuSeconds(pgid) - cpu0;
    return {
      fps: times.length / SECONDS,
      msPerFrameP50: percentile(times, 50),
      msPerFrameP95: percentile(times, 95),
      chromiumCpuPct: (chromiumCpu / SECONDS) * 100,
    };
  } finally {
    await browser.close();
  }
}

/** castpool's capture half: CDP screencast, ack at once, base64 → Buffer, latest-frame slot. No encoder. */
async function screencastCapture(url: string) {
  const browser = await launch();
  try {
    const page = await openPage(browser, url);
    const pgid = browser.process()?.pid ?? 0;
    const cdp = await page.createCDPSession();
    const slot = new LatestFrameSlot<Buffer>();
    const gaps: number[] = [];
    let frames = 0;
    let last = 0;
    let measuring = false;
    cdp.on('Page.screencastFrame', (frame: Protocol.Page.ScreencastFrameEvent) => {
      cdp.send('Page.screencastFrameAck', { sessionId: frame.sessionId }).catch(() => {});
      slot.put(Buffer.from(frame.data, 'base64'));
      slot.take();
      const now = performance.now();
      if (measuring) {
        frames++;
        if (last) gaps.push(now - last);
      }
      last = now;
    });
    await cdp.send('Page.startScreencast', { format: 'jpeg', quality: 80, maxWidth: 1280, maxHeight: 720 });
    await sleep(WARMUP_MS);
    const cpu0 = nodeCpuSeconds();
    const chromium0 = groupCpuSeconds(pgid);
    measuring = true;
    await sleep(SECONDS * 1000);
    measuring = false;
    const nodeCpu = nodeCpuSeconds() - cpu0;
    const chromiumCpu = groupCpuSeconds(pgid) - chromium0;
    await cdp.send('Page.stopScreencast');
    return {
      fps: frames / SECONDS,
      msPerFrameP50: percentile(gaps, 50),
      msPerFrameP95: percentile(gaps, 95),
      nodeMsPerFrame: (nodeCpu * 1000) / frames,
      chromiumCpuPct: (chromiumCpu / SECONDS) * 100,
    };
  } finally {
    await browser.close();
  }
}

/** The whole castpool pipeline, with a real Chromium viewer over WHEP: FPS, CPU split, glass-to-glass latency. */
async function pipeline(url: string, fps: number) {
  const config = loadConfig({ port: 0, logLevel: 'warn', dataDir: mkdtempSync(join(root, 'data-')) }, {});
  const { app, castpool, commands } = await buildApp(config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const viewer = await launch();
  try {
    const session = await commands.create({ url, fps, viewport: VIEWPORT });
    await sleep(WARMUP_MS);
    const page = await viewer.newPage();
    await page.goto(`${base}/api/sessions/${session.id}/view`);
    await page.waitForFunction(
      () =>
        (window as unknown as { castpoolViewer: { firstFrameAt: number } }).castpoolViewer.firstFrameAt > 0,
      { timeout: 15_000 },
    );
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
    }, TIMECODE);
    await sleep(WARMUP_MS);
    const ffmpeg = castpool.processes.list().find((p) => p.kind === 'ffmpeg');
    const chromium = castpool.processes.list().find((p) => p.kind === 'chromium');
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
    const ffmpeg0 = groupCpuSeconds(ffmpeg?.pid ?? -1);
    const chromium0 = groupCpuSeconds(chromium?.pid ?? -1);
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const end = await readViewer();
    const nodeCpu = nodeCpuSeconds() - node0;
    const ffmpegCpu = groupCpuSeconds(ffmpeg?.pid ?? -1) - ffmpeg0;
    const chromiumCpu = groupCpuSeconds(chromium?.pid ?? -1) - chromium0;
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
    const detail = commands.get(session.id);
    const frames = end.frames - start.frames;
    return {
      viewerFps: frames / elapsed,
      state: detail.state,
      droppedFrames: detail.droppedFrames,
      nodeMsPerFrame: (nodeCpu * 1000) / frames,
      ffmpegMsPerFrame: (ffmpegCpu * 1000) / frames,
      nodeCpuPct: (nodeCpu / elapsed) * 100,
      ffmpegCpuPct: (ffmpegCpu / elapsed) * 100,
      chromiumCpuPct: (chromiumCpu / elapsed) * 100,
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

function machine() {
  const version = (cmd: string, args: string[]) => {
    try {
      return (
        execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
          .split('\n')[0]
          ?.trim() ?? 'unknown'
      );
    } catch {
      return 'unknown';
    }
  };
  return {
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    memoryGiB: round(totalmem() / 2 ** 30, 0),
    os: readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="(.+)"/)?.[1] ?? 'unknown',
    node: process.version,
    chromium: version('/usr/bin/chromium', ['--version']).replace(/^.*?(Chromium)/, '$1'),
    ffmpeg: version('ffmpeg', ['-version']),
  };
}

async function main() {
  const pages = await startBenchPages();
  try {
    log(`screenshot loop, ${SECONDS} s…`);
    const screenshot = await screenshotLoop(pages.animatedUrl);
    log(`screencast capture (no encoder), ${SECONDS} s…`);
    const screencast = await screencastCapture(pages.animatedUrl);
    log(`full pipeline at 30 FPS with a WHEP viewer, ${SECONDS} s…`);
    const pipe30 = await pipeline(pages.timecodeUrl, 30);
    const results = {
      date: new Date().toISOString(),
      seconds: SECONDS,
      machine: machine(),
      screenshot,
      screencast,
      pipeline30: pipe30,
      captureSpeedup: screencast.fps / screenshot.fps,
    };
    writeFileSync('bench/results/latest.json', `${JSON.stringify(results, null, 2)}\n`);
    const table = render(results);
    process.stdout.write(`${table}\n`);
    writeFileSync('BENCHMARKS.md', table);
  } finally {
    await pages.close();
    rmSync(root, { recursive: true, force: true });
  }
}

function render(r: {
  date: string;
  seconds: number;
  machine: ReturnType<typeof machine>;
  screenshot: Awaited<ReturnType<typeof screenshotLoop>>;
  screencast: Awaited<ReturnType<typeof screencastCapture>>;
  pipeline30: Awaited<ReturnType<typeof pipeline>>;
  captureSpeedup: number;
}): string {
  const { screenshot: s, screencast: c, pipeline30: p } = r;
  return `# Benchmarks

Made by \`npm run bench\` (${r.seconds} s per variant, after a ${WARMUP_MS / 1000} s warm-up) on ${r.date}.
Page: 1280×720 canvas repainting fully on every animation frame (worst case), served from 127.0.0.1.

Machine: ${r.machine.cpu}, ${r.machine.memoryGiB} GiB, ${r.machine.os}; ${r.machine.node}; ${r.machine.chromium}; ${r.machine.ffmpeg}.
CPU % is of one core (the machine has ${cpus().length * 100}).

## Capture: the old way vs castpool's screencast
| variant | FPS | ms per frame p50 / p95 | our CPU per frame | Chromium CPU |
|---|---|---|---|---|
| \`page.screenshot()\` loop, JPEG q80 | ${round(s.fps)} | ${round(s.msPerFrameP50)} / ${round(s.msPerFrameP95)} (call time) | – | ${round(s.chromiumCpuPct, 0)} % |
| CDP screencast → latest-frame slot (no encoder) | ${round(c.fps)} | ${round(c.msPerFrameP50)} / ${round(c.msPerFrameP95)} (frame gap) | ${round(c.nodeMsPerFrame, 2)} ms (Node) | ${round(c.chromiumCpuPct, 0)} % |
| **ratio** | **${round(r.captureSpeedup, 2)}×** | | | |

## Full pipeline at 30 FPS: screencast → ffmpeg x264 → RTP → werift → a real Chromium viewer (WHEP)
| measure | value |
|---|---|
| FPS decoded by the viewer | ${round(p.viewerFps)} |
| session state at the end / dropped frames (latest-frame-wins, incl. 60→30 pacing) | ${p.state} / ${p.droppedFrames} |
| our CPU per delivered frame: Node (capture, pacing, RTP fan-out, werift) | ${round(p.nodeMsPerFrame, 2)} ms (${round(p.nodeCpuPct, 0)} % of a core) |
| our CPU per delivered frame: ffmpeg (JPEG decode + x264) | ${round(p.ffmpegMsPerFrame, 2)} ms (${round(p.ffmpegCpuPct, 0)} % of a core) |
| session Chromium CPU | ${round(p.chromiumCpuPct, 0)} % |
| glass-to-glass latency p50 / p95 | **${round(p.latencyP50, 0)} / ${round(p.latencyP95, 0)} ms** (${p.latencySamples} frames read, ${p.unreadableFrames} unreadable) |
| viewer: jitter buffer / processing (receive → decoded) / decode per frame | ${round(p.receiver?.jitterBufferMs ?? Number.NaN)} / ${round(p.receiver?.processingMs ?? Number.NaN)} / ${round(p.receiver?.decodeMs ?? Number.NaN)} ms |
| viewer: frames dropped / NACKs / PLIs | ${p.receiver?.framesDropped} / ${p.receiver?.nackCount} / ${p.receiver?.pliCount} |

Latency: the page draws its wall clock as 24 black/white blocks plus parity on every frame; the viewer
reads them back from each decoded frame (\`requestVideoFrameCallback\` + canvas) and subtracts them from
its own clock (same machine, same clock). Targets: capture ratio ≥ 4.5×; p50 ≤ 100 ms, p95 ≤ 150 ms.
The viewer Chromium runs on the same 2 cores and competes with the pipeline it measures.

Raw numbers: \`bench/results/latest.json\`.
`;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
