/**
 * castpool benchmark: the variants side by side, one run, same page, same machine.
 *   npm run bench                          every section (BENCH_SECONDS=15 per variant)
 *   BENCH_ONLY=memory,held npm run bench   some sections; the others keep their last results
 * Prints a table, writes bench/results/latest.json and BENCHMARKS.md (each section with its date).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page, type Protocol } from 'puppeteer-core';
import { CHROMIUM_FLAGS } from '../src/actors/chromium.js';
import type { CaptureStrategy } from '../src/machines/types.js';
import { LatestFrameSlot } from '../src/media/latest-frame-slot.js';
import { density, heldSessions, MEMORY_VARIANTS, memoryAndResume, sessionPageOf } from './capacity.js';
import { commandLatency, createThroughput } from './nats.js';
import { startBenchPages, TIMECODE } from './pages.js';
import {
  benchRoot,
  chromiumPath,
  groupCpuSeconds,
  log,
  nodeCpuSeconds,
  percentile,
  removeBenchRoot,
  round,
  SECONDS,
  sleep,
  startService,
  VIEWPORT,
  WARMUP_MS,
} from './util.js';

async function launch(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    ignoreDefaultArgs: ['--headless'],
    pipe: true,
    userDataDir: mkdtempSync(join(benchRoot(), 'chromium-')),
    // A test tool of the suite's own (as root): not a castpool browser.
    args: [...CHROMIUM_FLAGS, '--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
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
  const { app, castpool, commands, base } = await startService();
  const viewer = await launch();
  try {
    const session = await commands.sessions.create({ url, fps, viewport: VIEWPORT, capture });
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

/** Viewers joining a page that stopped changing: connected → first decoded frame, one after another. */
async function joinTime(url: string, capture: CaptureStrategy, joins: number) {
  const { app, commands, base } = await startService();
  const viewer = await launch();
  try {
    const session = await commands.sessions.create({ url, fps: 30, viewport: VIEWPORT, capture });
    await sleep(WARMUP_MS); // loaded and still
    const waits: number[] = [];
    for (let i = 0; i < joins; i++) {
      const page = await viewer.newPage();
      await page.goto(`${base}/api/sessions/${session.id}/view`);
      const handle = await page.waitForFunction(
        () => {
          const v = (window as unknown as { castpoolViewer: { firstFrameAt: number; connectedAt: number } })
            .castpoolViewer;
          return v.firstFrameAt > 0 && v.firstFrameAt - v.connectedAt;
        },
        { timeout: 15_000 },
      );
      waits.push(Number(await handle.jsonValue()));
      await page.close();
      await sleep(500);
    }
    return { joins, firstFrameMsP50: percentile(waits, 50), firstFrameMsMax: Math.max(...waits), waits };
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
    chromium: version(chromiumPath(), ['--version']).replace(/^.*?(Chromium)/, '$1'),
    ffmpeg: version('ffmpeg', ['-version']),
  };
}

const SECTIONS = ['capture', 'strategies', 'join', 'density', 'memory', 'held', 'nats'] as const;
type Section = (typeof SECTIONS)[number];
const DENSITY_STEPS = (process.env.BENCH_DENSITY ?? '1,2,4,8,16').split(',').map(Number);
const HELD_TARGET = Number(process.env.BENCH_HELD ?? 200);
const RESULTS = 'bench/results/latest.json';

async function runSection(section: Section, pages: Awaited<ReturnType<typeof startBenchPages>>) {
  switch (section) {
    case 'capture': {
      log(`screenshot loop, ${SECONDS} s…`);
      const screenshot = await screenshotLoop(pages.animatedUrl);
      log(`screencast capture (no encoder), ${SECONDS} s…`);
      const screencast = await screencastCapture(pages.animatedUrl);
      return { screenshot, screencast, speedup: screencast.fps / screenshot.fps };
    }
    case 'strategies': {
      const rows: Record<string, Awaited<ReturnType<typeof pipeline>>> = {};
      for (const [page, url] of [
        ['typical', pages.typicalTimecodeUrl],
        ['full-motion', pages.timecodeUrl],
      ] as const)
        for (const capture of ['screencast', 'tab'] as const) {
          log(`${capture} pipeline, ${page} page, 30 FPS, one Chromium viewer, ${SECONDS} s…`);
          rows[`${capture}/${page}`] = await pipeline(url, 30, capture);
        }
      return rows;
    }
    case 'join': {
      const rows: Record<string, Awaited<ReturnType<typeof joinTime>>> = {};
      for (const capture of ['screencast', 'tab'] as const) {
        log(`join: 8 viewers one after another on a still ${capture} page…`);
        rows[capture] = await joinTime(pages.stillUrl, capture, 8);
      }
      return rows;
    }
    case 'density': {
      const rows: Awaited<ReturnType<typeof density>>[] = [];
      for (const [page, url] of [
        ['typical', pages.typicalUrl],
        ['full-motion', pages.animatedUrl],
      ] as const)
        for (const capture of ['screencast', 'tab'] as const)
          for (const sessions of DENSITY_STEPS) {
            log(`density: ${sessions} watched ${capture} sessions of the ${page} page, ${SECONDS} s…`);
            rows.push(await density(url, page, capture, sessions));
          }
      return rows;
    }
    case 'memory': {
      const rows: Awaited<ReturnType<typeof memoryAndResume>>[] = [];
      for (const variant of MEMORY_VARIANTS) {
        log(`memory: ${variant.name}, 6 streaming → hibernated sessions, resume time…`);
        rows.push(await memoryAndResume(pages.typicalUrl, 6, variant));
      }
      return rows;
    }
    case 'held':
      log(`held: ${HELD_TARGET} sessions, 2 watched, the rest hibernated…`);
      return heldSessions(pages.typicalUrl, HELD_TARGET, 2);
    case 'nats': {
      log('command round trips: REST vs NATS, 2000 each…');
      const latency = await commandLatency(pages.typicalUrl);
      const throughput = [];
      for (const nodes of [1, 2] as const) throughput.push(await createThroughput(pages.typicalUrl, nodes));
      return { latency, throughput };
    }
  }
}

type Stored = Partial<Record<Section, { date: string; seconds: number; data: unknown }>> & {
  machine?: ReturnType<typeof machine>;
};

async function main() {
  const only = process.env.BENCH_ONLY?.split(',').filter(Boolean) as Section[] | undefined;
  const unknown = only?.filter((s) => !SECTIONS.includes(s));
  if (unknown?.length)
    throw new Error(`BENCH_ONLY: unknown sections ${unknown.join(', ')} (${SECTIONS.join(', ')})`);
  let stored: Stored = {};
  try {
    stored = JSON.parse(readFileSync(RESULTS, 'utf8')) as Stored;
    if (!('capture' in stored) || typeof stored.capture !== 'object') stored = {}; // the older flat format
  } catch {
    // first run
  }
  const pages = await startBenchPages();
  try {
    for (const section of only ?? SECTIONS) {
      const data = await runSection(section, pages);
      stored[section] = { date: new Date().toISOString(), seconds: SECONDS, data };
      stored.machine = machine();
      writeFileSync(RESULTS, `${JSON.stringify(stored, null, 2)}\n`);
    }
    const table = render(stored);
    process.stdout.write(`${table}\n`);
    writeFileSync('BENCHMARKS.md', table);
  } finally {
    await pages.close();
    removeBenchRoot();
  }
}

type CaptureData = {
  screenshot: Awaited<ReturnType<typeof screenshotLoop>>;
  screencast: Awaited<ReturnType<typeof screencastCapture>>;
  speedup: number;
};
type StrategyData = Record<string, Awaited<ReturnType<typeof pipeline>>>;
type JoinData = Record<string, Awaited<ReturnType<typeof joinTime>>>;
type DensityData = Awaited<ReturnType<typeof density>>[];
type MemoryData = Awaited<ReturnType<typeof memoryAndResume>>[];
type HeldData = Awaited<ReturnType<typeof heldSessions>>;
type NatsData = {
  latency: Awaited<ReturnType<typeof commandLatency>>;
  throughput: Awaited<ReturnType<typeof createThroughput>>[];
};

const n = (value: number | undefined | null, digits = 0) =>
  value === undefined || value === null || Number.isNaN(value) ? '–' : String(round(value, digits));
const when = (stored: Stored, section: Section) =>
  stored[section] ? `(${stored[section]?.seconds} s per variant, ${stored[section]?.date})` : '(not run yet)';

function render(stored: Stored): string {
  const out: string[] = [];
  const m = stored.machine ?? machine();
  out.push(`# Benchmarks

Made by \`npm run bench\` (each section says when it last ran; \`BENCH_ONLY=<section>\` reruns one).
Pages, served from 127.0.0.1 at 1280×720: **full-motion** — a canvas repainting fully on every animation
frame (worst case); **typical** — an article with a 64×64 CSS spinner (in the latency runs, a small
time-code strip changes every frame instead, which costs the same: capture cost follows frames, not area).

Machine: ${m.cpu}, ${m.memoryGiB} GiB, ${m.os}; ${m.node}; ${m.chromium}; ${m.ffmpeg}.
CPU % is of one core (the machine has ${cpus().length * 100}).`);

  const capture = stored.capture?.data as CaptureData | undefined;
  if (capture) {
    const { screenshot: s, screencast: c } = capture;
    out.push(`## Capture: the old way vs castpool's screencast ${when(stored, 'capture')}
| variant | FPS | ms per frame p50 / p95 | our CPU per frame | Chromium CPU |
|---|---|---|---|---|
| \`page.screenshot()\` loop, JPEG q80 | ${n(s.fps, 1)} | ${n(s.msPerFrameP50, 1)} / ${n(s.msPerFrameP95, 1)} (call time) | – | ${n(s.chromiumCpuPct)} % |
| CDP screencast → latest-frame slot (no encoder) | ${n(c.fps, 1)} | ${n(c.msPerFrameP50, 1)} / ${n(c.msPerFrameP95, 1)} (frame gap) | ${n(c.nodeMsPerFrame, 2)} ms (Node) | ${n(c.chromiumCpuPct)} % |
| **ratio** | **${n(capture.speedup, 2)}×** | | | |`);
  }

  const strategies = stored.strategies?.data as StrategyData | undefined;
  if (strategies) {
    const rows = Object.entries(strategies).map(
      ([name, p]) =>
        `| ${name} | ${n(p.viewerFps, 1)} | ${n(p.sessionCpuPct)} % | ${n(p.chromiumCpuPct)} / ${n(p.ffmpegCpuPct)} / ${n(p.nodeCpuPct)} % | ` +
        `${n(p.latencyP50)} / ${n(p.latencyP95)} ms | ${n(p.kbitPerSecond)} kbit/s | ${n(p.receiver?.jitterBufferMs, 1)} ms | ${p.state} |`,
    );
    out.push(`## The two capture strategies, one watched session at 30 FPS, a real Chromium viewer over WHEP ${when(stored, 'strategies')}
screencast = CDP JPEG → ffmpeg x264 → RTP → werift; tab = Chromium captures and encodes its own tab
(VP8) → upstream werift peer → werift. Session CPU = the session's Chromium + ffmpeg + castpool's Node
(the viewer's Chromium, on the same cores, is not counted).

| strategy/page | viewer FPS | session CPU | Chromium / ffmpeg / Node | glass-to-glass p50 / p95 | bitrate | viewer jitter buffer | state |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Latency: the page draws its wall clock as 24 black/white blocks plus parity on every frame; the viewer
reads them back from each decoded frame (\`requestVideoFrameCallback\` + canvas) and subtracts them from
its own clock (same machine, same clock).`);
  }

  const joins = stored.join?.data as JoinData | undefined;
  if (joins) {
    const rows = Object.entries(joins).map(
      ([capture, j]) =>
        `| ${capture} | ${j.joins} | ${n(j.firstFrameMsP50)} ms | ${n(j.firstFrameMsMax)} ms |`,
    );
    out.push(`## A viewer joining a page that does not change ${when(stored, 'join')}
Viewers open the view page one after another on a session whose page stopped changing; time from the
viewer's peer connection reaching \`connected\` to its first decoded frame (screencast: the encoder
restarts with a keyframe or the last frame repeats; tab: a keyframe request plus a compositor nudge).

| strategy | joins | first frame p50 | slowest |
|---|---|---|---|
${rows.join('\n')}`);
  }

  const densities = stored.density?.data as DensityData | undefined;
  if (densities) {
    const rows = densities.map(
      (d) =>
        `| ${d.page ?? 'typical'} | ${d.capture} | ${d.sessions} | ${n(d.minFps, 1)} / ${n(d.medianFps, 1)} | ${n(d.totalCpuPct)} % | ${n(d.cpuPerSessionPct)} % | ${n(d.budgetTotalFps)} | ${
          Object.entries(d.starved ?? {})
            .map(([why, count]) => `${count}× ${why}`)
            .join(', ') || '–'
        } |`,
    );
    out.push(`## Density: N watched sessions on this 2-core host ${when(stored, 'density')}
Each session at 30 FPS, watched by a light WHEP client (werift in a process of its own, like a remote
player: receives and counts, does not decode); 4 sessions per browser. FPS per session: lowest /
median; the capture budget's CPU limit on the total at the end of the run (– = not limited). Host CPU
includes the viewers' process, which shares the cores with castpool here.

| page | strategy | sessions | FPS min / median | host CPU | CPU per session | budget (FPS) | under 1 FPS: session/viewer state |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}`);
  }

  const memory = stored.memory?.data as MemoryData | undefined;
  if (memory) {
    const rows = memory.map(
      (v) =>
        `| ${v.variant} | ${n(v.streamingPssPerSessionMb)} MB | ${n(v.idlePssPerSessionMb)} MB | ${n(v.hibernatedPssPerSessionMb, 1)} MB + ${n(v.hibernatedHeapPerSessionMb, 2)} MB heap | ${n(v.resumeP50Ms)} / ${n(v.resumeP95Ms)} ms |`,
    );
    out.push(`## Memory per session and resume time (typical page, ${memory[0]?.sessions ?? 6} sessions) ${when(stored, 'memory')}
Extra PSS of the whole Chromium process tree (and the screencast's ffmpeg) per session, against the
service holding one idle session; tab capture unless the variant says screencast, encoding H.264
for viewers that take it (all but the VP8 variant); the hibernated column adds castpool's heap per
hibernated session. Resume: \`resume\` until the page is at its URL again.

| variant | streaming | idle (not watched) | hibernated | resume p50 / p95 |
|---|---|---|---|---|
${rows.join('\n')}`);
  }

  const held = stored.held?.data as HeldData | undefined;
  if (held)
    out.push(`## Sessions held on one host ${when(stored, 'held')}
${held.watched} sessions streaming (tab capture, typical page, werift viewers in their own process) while the rest are created
in batches of 8 and hibernated.

| measure | value |
|---|---|
| sessions held | ${held.held} (${Object.entries(held.states)
      .map(([state, count]) => `${count} ${state}`)
      .join(', ')}) |
| time to create and hibernate them | ${n(held.fillSeconds)} s |
| lowest FPS of the watched sessions, with all of them held | ${n(held.watchedMinFps, 1)} |
| browsers running | ${held.browsers} |
| Chromium PSS / castpool RSS | ${n(held.chromiumPssMb)} MB / ${n(held.nodeRssMb)} MB |
| castpool heap per hibernated session | ${n(held.heapPerHibernatedKb, 1)} kB |
| resume of a held session (p50 of 5) | ${n(held.resumeP50Ms)} ms |
| watched sessions' state changes after they started streaming | ${held.watchedChanges?.filter((c) => !/(launching|idle → streaming)/.test(c)).join('; ') || 'none'} |`);

  const natsData = stored.nats?.data as NatsData | undefined;
  if (natsData) {
    const { latency: l } = natsData;
    const rows = natsData.throughput.map(
      (t) =>
        `| ${t.nodes} | ${t.sessions} sessions, ${t.concurrency} at a time | ${n(t.seconds, 1)} s | ${n(t.perSecond, 2)} /s | ${Object.entries(
          t.placed,
        )
          .map(([node, count]) => `${node.replace(/^bench-\d-/, 'node ')}: ${count}`)
          .join(', ')} |`,
    );
    out.push(`## Commands over NATS and REST, and creates on one or two nodes ${when(stored, 'nats')}
Round trip of \`get\` for one session, ${l.rounds} sequential calls per face, interleaved, same process
and machine (REST: Node's fetch to Fastify; NATS: a request to \`castpool.sessions.get\` through the
embedded nats-server).

| face | p50 | p99 |
|---|---|---|
| REST | ${n(l.rest.p50, 2)} ms | ${n(l.rest.p99, 2)} ms |
| NATS | ${n(l.nats.p50, 2)} ms | ${n(l.nats.p99, 2)} ms |

Creates through one node's REST API (nodes share one nats-server; placement by free capacity):

| nodes | work | time | creates | placed on |
|---|---|---|---|---|
${rows.join('\n')}`);
  }

  out.push('Raw numbers: `bench/results/latest.json`.\n');
  return out.join('\n\n');
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
