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
import { groupPssMb } from '../src/actors/memory.js';
import type { SessionPage } from '../src/actors/page.js';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { CaptureStrategy } from '../src/machines/types.js';
import { LatestFrameSlot } from '../src/media/latest-frame-slot.js';
import type { Castpool } from '../src/system.js';
import { startBenchPages, TIMECODE } from './pages.js';
import { watchWithWerift } from './whep-client.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const WARMUP_MS = 1500;
const DENSITY_STEPS = (process.env.BENCH_DENSITY ?? '1,2,4,8').split(',').map(Number);
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

const sessionPageOf = (castpool: Castpool, id: string) =>
  castpool.pool.getSnapshot().context.sessions[id]?.ref.getSnapshot().context.page as SessionPage;

/** N watched sessions of one strategy on this host: per-session FPS and total CPU. */
async function density(url: string, capture: CaptureStrategy, sessions: number) {
  const config = loadConfig({ port: 0, logLevel: 'warn', dataDir: mkdtempSync(join(root, 'data-')) }, {});
  const { app, castpool, commands } = await buildApp(config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const viewers: Awaited<ReturnType<typeof watchWithWerift>>[] = [];
  try {
    for (let i = 0; i < sessions; i++) {
      const session = await commands.create({ url, fps: 30, viewport: VIEWPORT, capture });
      viewers.push(await watchWithWerift(`${base}/api/sessions/${session.id}/whep`));
    }
    await sleep(3000 + WARMUP_MS);
    const frames0 = viewers.map((v) => v.counts.frames);
    const pids = castpool.processes.list().map((p) => p.pid);
    const cpu0 = pids.reduce((sum, pid) => sum + groupCpuSeconds(pid), 0) + nodeCpuSeconds();
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = pids.reduce((sum, pid) => sum + groupCpuSeconds(pid), 0) + nodeCpuSeconds() - cpu0;
    const fps = viewers.map((v, i) => (v.counts.frames - (frames0[i] ?? 0)) / elapsed).sort((a, b) => a - b);
    return {
      capture,
      sessions,
      minFps: fps[0] ?? 0,
      medianFps: percentile(fps, 50),
      totalCpuPct: (cpu / elapsed) * 100,
      cpuPerSessionPct: (cpu / elapsed / sessions) * 100,
    };
  } finally {
    for (const viewer of viewers) await viewer.close();
    await app.close();
  }
}

/** Memory per streaming vs hibernated session in a shared browser, and resume time. */
async function memoryAndResume(url: string, sessions: number) {
  const config = loadConfig(
    { port: 0, logLevel: 'warn', sessionsPerBrowser: 32, dataDir: mkdtempSync(join(root, 'data-')) },
    {},
  );
  const { app, castpool, commands } = await buildApp(config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const chromiumPss = () =>
    groupPssMb(
      castpool.processes
        .list()
        .filter((p) => p.kind === 'chromium')
        .map((p) => p.pid),
    );
  try {
    await commands.create({ url, viewport: VIEWPORT }); // keeps the shared browser up throughout
    await sleep(2000);
    const basePss = chromiumPss();
    const ids: string[] = [];
    const viewers: Awaited<ReturnType<typeof watchWithWerift>>[] = [];
    for (let i = 0; i < sessions; i++) {
      const session = await commands.create({ url, viewport: VIEWPORT });
      ids.push(session.id);
      viewers.push(await watchWithWerift(`${base}/api/sessions/${session.id}/whep`));
    }
    await sleep(5000);
    const streamingPss = chromiumPss();
    for (const viewer of viewers) await viewer.close();
    for (const id of ids) await until(() => commands.get(id).state === 'idle', 10_000);
    const heapBefore = process.memoryUsage().heapUsed;
    for (const id of ids) await commands.hibernate(id);
    await sleep(2000);
    const hibernatedPss = chromiumPss();
    const heapPerHibernated = (process.memoryUsage().heapUsed - heapBefore) / sessions / 2 ** 20;
    const resumeMs: number[] = [];
    for (const id of ids) {
      const t0 = performance.now();
      await commands.resume(id);
      await until(() => sessionPageOf(castpool, id).page.url() === url, 10_000);
      resumeMs.push(performance.now() - t0);
    }
    return {
      sessions,
      basePssMb: basePss,
      streamingPssPerSessionMb: (streamingPss - basePss) / sessions,
      hibernatedPssPerSessionMb: Math.max(0, (hibernatedPss - basePss) / sessions),
      hibernatedHeapPerSessionMb: Math.max(0, heapPerHibernated),
      resumeP50Ms: percentile(resumeMs, 50),
      resumeP95Ms: percentile(resumeMs, 95),
    };
  } finally {
    await app.close();
  }
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await sleep(50);
}

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
async function pipeline(url: string, fps: number, capture: CaptureStrategy) {
  const config = loadConfig({ port: 0, logLevel: 'warn', dataDir: mkdtempSync(join(root, 'data-')) }, {});
  const { app, castpool, commands } = await buildApp(config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const viewer = await launch();
  try {
    const session = await commands.create({ url, fps, viewport: VIEWPORT, capture });
    const fanout = sessionPageOf(castpool, session.id).fanout;
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
    const tracked = () => castpool.processes.list().map((p) => p.pid);
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
    const children0 = tracked().reduce((sum, pid) => sum + groupCpuSeconds(pid), 0);
    const bytes0 = fanout.bytesOut;
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const end = await readViewer();
    const nodeCpu = nodeCpuSeconds() - node0;
    const ffmpegCpu = groupCpuSeconds(ffmpeg?.pid ?? -1) - ffmpeg0;
    const childrenCpu = tracked().reduce((sum, pid) => sum + groupCpuSeconds(pid), 0) - children0;
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
    const strategies: Record<string, Awaited<ReturnType<typeof pipeline>>> = {};
    for (const [page, url] of [
      ['typical', pages.typicalTimecodeUrl],
      ['full-motion', pages.timecodeUrl],
    ] as const) {
      for (const capture of ['screencast', 'tab'] as const) {
        log(`${capture} pipeline, ${page} page, 30 FPS, one Chromium viewer, ${SECONDS} s…`);
        strategies[`${capture}/${page}`] = await pipeline(url, 30, capture);
      }
    }
    const densities: Awaited<ReturnType<typeof density>>[] = [];
    for (const capture of ['screencast', 'tab'] as const) {
      for (const sessions of DENSITY_STEPS) {
        log(`density: ${sessions} watched ${capture} sessions of the typical page, ${SECONDS} s…`);
        densities.push(await density(pages.typicalUrl, capture, sessions));
      }
    }
    log('memory: streaming vs hibernated sessions in one shared browser, and resume time…');
    const memory = await memoryAndResume(pages.typicalUrl, 6);
    const results = {
      memory,
      date: new Date().toISOString(),
      seconds: SECONDS,
      machine: machine(),
      screenshot,
      screencast,
      captureSpeedup: screencast.fps / screenshot.fps,
      strategies,
      densities,
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

type Results = {
  date: string;
  seconds: number;
  machine: ReturnType<typeof machine>;
  screenshot: Awaited<ReturnType<typeof screenshotLoop>>;
  screencast: Awaited<ReturnType<typeof screencastCapture>>;
  captureSpeedup: number;
  strategies: Record<string, Awaited<ReturnType<typeof pipeline>>>;
  densities: Awaited<ReturnType<typeof density>>[];
  memory: Awaited<ReturnType<typeof memoryAndResume>>;
};

function render(r: Results): string {
  const { screenshot: s, screencast: c } = r;
  const n = (value: number | undefined, digits = 0) =>
    value === undefined ? '–' : String(round(value, digits));
  const strategyRows = Object.entries(r.strategies)
    .map(
      ([name, p]) =>
        `| ${name} | ${n(p.viewerFps, 1)} | ${n(p.sessionCpuPct)} % | ${n(p.chromiumCpuPct)} / ${n(p.ffmpegCpuPct)} / ${n(p.nodeCpuPct)} % | ` +
        `${n(p.latencyP50)} / ${n(p.latencyP95)} ms | ${n(p.kbitPerSecond)} kbit/s | ${n(p.receiver?.jitterBufferMs, 1)} ms | ${p.state} |`,
    )
    .join('\n');
  const densityRows = r.densities
    .map(
      (d) =>
        `| ${d.capture} | ${d.sessions} | ${n(d.minFps, 1)} / ${n(d.medianFps, 1)} | ${n(d.totalCpuPct)} % | ${n(d.cpuPerSessionPct)} % |`,
    )
    .join('\n');
  return `# Benchmarks

Made by \`npm run bench\` (${r.seconds} s per variant, after a ${WARMUP_MS / 1000} s warm-up) on ${r.date}.
Pages, served from 127.0.0.1 at 1280×720: **full-motion** — a canvas repainting fully on every animation
frame (worst case); **typical** — an article with a 64×64 CSS spinner (in the latency runs, a small
time-code strip changes every frame instead, which costs the same: capture cost follows frames, not area).

Machine: ${r.machine.cpu}, ${r.machine.memoryGiB} GiB, ${r.machine.os}; ${r.machine.node}; ${r.machine.chromium}; ${r.machine.ffmpeg}.
CPU % is of one core (the machine has ${cpus().length * 100}).

## Capture: the old way vs castpool's screencast
| variant | FPS | ms per frame p50 / p95 | our CPU per frame | Chromium CPU |
|---|---|---|---|---|
| \`page.screenshot()\` loop, JPEG q80 | ${n(s.fps, 1)} | ${n(s.msPerFrameP50, 1)} / ${n(s.msPerFrameP95, 1)} (call time) | – | ${n(s.chromiumCpuPct)} % |
| CDP screencast → latest-frame slot (no encoder) | ${n(c.fps, 1)} | ${n(c.msPerFrameP50, 1)} / ${n(c.msPerFrameP95, 1)} (frame gap) | ${n(c.nodeMsPerFrame, 2)} ms (Node) | ${n(c.chromiumCpuPct)} % |
| **ratio** | **${n(r.captureSpeedup, 2)}×** | | | |

## The two capture strategies, one watched session at 30 FPS, a real Chromium viewer over WHEP
screencast = CDP JPEG → ffmpeg x264 → RTP → werift; tab = Chromium captures and encodes its own tab
(VP8) → upstream werift peer → werift. Session CPU = the session's Chromium + ffmpeg + castpool's Node
(the viewer's Chromium, on the same cores, is not counted).

| strategy/page | viewer FPS | session CPU | Chromium / ffmpeg / Node | glass-to-glass p50 / p95 | bitrate | viewer jitter buffer | state |
|---|---|---|---|---|---|---|---|
${strategyRows}

## Density: N watched typical sessions on this 2-core host
Each session watched by a light WHEP client (werift in the bench process: receives and counts, does not
decode). FPS per session: lowest / median.

| strategy | sessions | FPS min / median | total CPU | CPU per session |
|---|---|---|---|---|
${densityRows}

## Memory and resume (typical page, one shared browser, ${r.memory.sessions} sessions)
PSS of the whole Chromium process tree, measured against the same browser holding one idle session.

| measure | value |
|---|---|
| extra PSS per streaming session (context + page + capture) | ${n(r.memory.streamingPssPerSessionMb)} MB |
| extra PSS per hibernated session (renderer released) | ${n(r.memory.hibernatedPssPerSessionMb, 1)} MB Chromium + ${n(r.memory.hibernatedHeapPerSessionMb, 2)} MB castpool heap |
| resume from hibernation to the page loaded (p50 / p95) | ${n(r.memory.resumeP50Ms)} / ${n(r.memory.resumeP95Ms)} ms |

Latency: the page draws its wall clock as 24 black/white blocks plus parity on every frame; the viewer
reads them back from each decoded frame (\`requestVideoFrameCallback\` + canvas) and subtracts them from
its own clock (same machine, same clock).

Raw numbers: \`bench/results/latest.json\`.
`;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
