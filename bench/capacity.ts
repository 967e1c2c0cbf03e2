import { cpus } from 'node:os';
/** Capacity benchmarks: density of watched sessions, memory per session, resume, sessions held. */
import { cpuShare, readCpuTimes } from '../src/actors/host-load.js';
import { groupPssMb } from '../src/actors/memory.js';
import type { SessionPage } from '../src/actors/page.js';
import type { Config } from '../src/config.js';
import type { CaptureStrategy } from '../src/machines/types.js';
import type { Castpool } from '../src/system.js';
import { log, percentile, round, SECONDS, sleep, startService, until, VIEWPORT, WARMUP_MS } from './util.js';
import { type FarmViewer, startViewerFarm } from './viewer-farm.js';
import { watchWithWerift } from './whep-client.js';

type Service = Awaited<ReturnType<typeof startService>>;
type Viewer = Awaited<ReturnType<typeof watchWithWerift>>;

export const sessionPageOf = (castpool: Castpool, id: string) =>
  castpool.pool.getSnapshot().context.sessions[id]?.ref.getSnapshot().context.page as SessionPage;

/** The sessions' process trees: browsers and (screencast) encoders. */
const chromiumPss = (castpool: Castpool) =>
  groupPssMb(
    castpool.processes
      .list()
      .filter((p) => p.kind === 'chromium' || p.kind === 'ffmpeg')
      .map((p) => p.pid),
  );

/** N watched sessions of one strategy and page on this host: per-session FPS and total CPU. */
/** How long a burst of first viewers keeps coming back when told to (density runs). */
const JOIN_DEADLINE_MS = 60_000;

/**
 * A farm viewer's join as a player makes it: a refusal (503 host_saturated) comes back as told
 * (Retry-After: 2 s while captures warm up, 5 s when saturated) until JOIN_DEADLINE_MS after `since`.
 * Anything but a refusal (a farm viewer that broke) is a failed join.
 */
async function watchWhenAdmitted(
  farm: ReturnType<typeof startViewerFarm>,
  url: string,
  since = performance.now(),
): Promise<{ viewer?: FarmViewer; failed?: true }> {
  for (;;) {
    try {
      return { viewer: await farm.watch(url) };
    } catch (error) {
      if (!/WHEP answered 503/.test((error as Error).message)) return { failed: true };
      if (performance.now() - since > JOIN_DEADLINE_MS) return {};
      await sleep(/starting captures/.test((error as Error).message) ? 2000 : 5000);
    }
  }
}

export async function density(
  url: string,
  page: string,
  capture: CaptureStrategy,
  sessions: number,
  viewport = VIEWPORT,
  captureBudget: Partial<Config['captureBudget']> = {},
) {
  const { app, castpool, commands, base } = await startService({
    maxSessions: Math.max(16, sessions),
    captureBudget,
  });
  const farm = startViewerFarm();
  const viewers: FarmViewer[] = [];
  const ids: string[] = [];
  try {
    const created: string[] = [];
    for (let i = 0; i < sessions; i++)
      created.push((await commands.sessions.create({ url, fps: 30, viewport, capture })).id);
    // Every first viewer at once, as players do: one refused (503 host_saturated) comes back as told
    // (Retry-After: 2 s while captures warm up, 5 s when saturated) until JOIN_DEADLINE_MS.
    const burstStarted = performance.now();
    let lastAdmittedMs = 0;
    const joins = await Promise.all(
      created.map(async (id) => {
        const join = await watchWhenAdmitted(farm, `${base}/api/sessions/${id}/whep`, burstStarted);
        if (join.viewer) lastAdmittedMs = Math.max(lastAdmittedMs, performance.now() - burstStarted);
        return { id, ...join };
      }),
    );
    for (const { id, viewer } of joins)
      if (viewer) {
        ids.push(id);
        viewers.push(viewer);
      }
    const failedJoins = joins.filter((join) => 'failed' in join).length;
    /** Viewers still refused at the deadline: their sessions stay unwatched. */
    const refused = sessions - viewers.length - failedJoins;
    await sleep(3000 + WARMUP_MS);
    const frames0 = viewers.map((v) => v.counts.frames);
    // Host-wide: processes come and go (encoder restarts), and the viewers share the cores.
    const cpu0 = readCpuTimes();
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const hostCpuPct = cpuShare(cpu0, readCpuTimes()) * cpus().length * 100;
    const perSession = viewers.map((v, i) => ({
      fps: (v.counts.frames - (frames0[i] ?? 0)) / elapsed,
      state: commands.sessions.get({ id: ids[i] as string }).state,
      viewer: v.state(),
    }));
    const fps = perSession.map((p) => p.fps).sort((a, b) => a - b);
    const connects = viewers.map((v) => v.connectMs());
    // The sessions that got nothing, and why (viewer never connected, session not streaming…).
    const starved = perSession
      .filter((p) => p.fps < 1)
      .map((p) => `${p.state}/${p.viewer}`)
      .reduce<Record<string, number>>((acc, key) => {
        acc[key] = (acc[key] ?? 0) + 1;
        return acc;
      }, {});
    if (failedJoins > 0) starved['join failed (viewer broke)'] = failedJoins;
    return {
      page,
      capture,
      sessions,
      viewport: `${viewport.width}×${viewport.height}`,
      watched: viewers.length,
      refused,
      /** From the burst of first viewers to the last one admitted. */
      admittedWithinMs: lastAdmittedMs,
      /** The slowest viewer's offer-to-connected time (null: one never connected). */
      slowestConnectMs: connects.some((ms) => ms === null) ? null : Math.max(0, ...(connects as number[])),
      minFps: fps[0] ?? 0,
      /** Watched sessions delivering under `captureBudget.minSessionFps`: starved. */
      underFloor: fps.filter((f) => f < castpool.config.captureBudget.minSessionFps).length,
      medianFps: percentile(fps, 50),
      totalCpuPct: hostCpuPct,
      cpuPerSessionPct: hostCpuPct / Math.max(1, viewers.length),
      fpsPerSession: fps.map((f) => round(f, 1)),
      budgetTotalFps: castpool.pool.getSnapshot().context.budget.cpuLimitFps,
      starved,
    };
  } finally {
    await farm.close();
    await app.close();
  }
}

export interface MemoryVariant {
  name: string;
  sessionsPerBrowser: number;
  warmPage: boolean;
  chromiumArgs: string[];
  capture?: CaptureStrategy;
  /** What the viewers decode (castpool encodes H.264 when they offer it). */
  viewerCodecs?: ('H264' | 'VP8')[];
}

export const MEMORY_VARIANTS: MemoryVariant[] = [
  { name: 'shared browser', sessionsPerBrowser: 32, warmPage: true, chromiumArgs: [] },
  {
    name: 'shared browser, VP8 (VP8-only viewers)',
    sessionsPerBrowser: 32,
    warmPage: true,
    chromiumArgs: [],
    viewerCodecs: ['VP8'],
  },
  {
    name: 'shared browser, screencast + ffmpeg',
    sessionsPerBrowser: 32,
    warmPage: true,
    chromiumArgs: [],
    capture: 'screencast',
  },
  { name: 'shared browser, no warm page', sessionsPerBrowser: 32, warmPage: false, chromiumArgs: [] },
  {
    name: 'shared browser, --enable-low-end-device-mode',
    sessionsPerBrowser: 32,
    warmPage: true,
    chromiumArgs: ['--enable-low-end-device-mode'],
  },
  { name: 'one browser per session', sessionsPerBrowser: 1, warmPage: true, chromiumArgs: [] },
];

/**
 * Memory per streaming vs hibernated session, and resume time. The baseline is the service with one
 * idle session (whose browser stays up throughout); with one browser per session each new session
 * brings its own browser, which is what that variant costs.
 */
export async function memoryAndResume(url: string, sessions: number, variant: MemoryVariant) {
  const { app, castpool, commands, base } = await startService({
    sessionsPerBrowser: variant.sessionsPerBrowser,
    warmPage: variant.warmPage,
    chromiumArgs: variant.chromiumArgs,
  });
  try {
    await commands.sessions.create({ url, viewport: VIEWPORT });
    await sleep(2000);
    const basePss = chromiumPss(castpool);
    const ids: string[] = [];
    const viewers: Viewer[] = [];
    for (let i = 0; i < sessions; i++) {
      const session = await commands.sessions.create({ url, viewport: VIEWPORT, capture: variant.capture });
      ids.push(session.id);
      viewers.push(await watchWithWerift(`${base}/api/sessions/${session.id}/whep`, variant.viewerCodecs));
    }
    await sleep(5000);
    const streamingPss = chromiumPss(castpool);
    for (const viewer of viewers) await viewer.close();
    for (const id of ids) await until(() => commands.sessions.get({ id: id }).state === 'idle', 10_000);
    // A stopped screencast's ffmpeg exits a moment after the session idles.
    await until(() => castpool.processes.list().every((p) => p.kind !== 'ffmpeg'), 10_000);
    await sleep(1000);
    const idlePss = chromiumPss(castpool);
    const heapBefore = process.memoryUsage().heapUsed;
    for (const id of ids) await commands.sessions.hibernate({ id: id });
    await sleep(2000);
    const hibernatedPss = chromiumPss(castpool);
    const heapPerHibernated = (process.memoryUsage().heapUsed - heapBefore) / sessions / 2 ** 20;
    const resumeMs: number[] = [];
    for (const id of ids) {
      const t0 = performance.now();
      await commands.sessions.resume({ id: id });
      await until(() => sessionPageOf(castpool, id).page.url() === url, 10_000);
      resumeMs.push(performance.now() - t0);
      await sleep(300); // a resume now and then, not a burst: the warm page refills in between
    }
    return {
      variant: variant.name,
      sessions,
      basePssMb: basePss,
      streamingPssPerSessionMb: (streamingPss - basePss) / sessions,
      idlePssPerSessionMb: (idlePss - basePss) / sessions,
      hibernatedPssPerSessionMb: Math.max(0, (hibernatedPss - basePss) / sessions),
      hibernatedHeapPerSessionMb: Math.max(0, heapPerHibernated),
      resumeP50Ms: percentile(resumeMs, 50),
      resumeP95Ms: percentile(resumeMs, 95),
    };
  } finally {
    await app.close();
  }
}

/**
 * How many sessions one host holds with all but the watched ones hibernated: `watched` sessions
 * stream to werift viewers throughout while batches of new sessions open and hibernate.
 */
/** Heap in use after a full collection when the bench runs with --expose-gc (npm run bench does). */
function settledHeap(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

export async function heldSessions(url: string, target: number, watched: number, batch = 8) {
  const service: Service = await startService({
    maxSessions: watched + batch,
    sessionsPerBrowser: watched + batch,
  });
  const { app, castpool, commands, base } = service;
  const farm = startViewerFarm();
  const viewers: FarmViewer[] = [];
  // What happens to the watched sessions while the rest come and go (a lost viewer shows here).
  const watchedIds = new Set<string>();
  const watchedChanges: string[] = [];
  const unsubscribe = castpool.events.subscribe((event) => {
    if (event.kind !== 'session' || !watchedIds.has(event.sessionId)) return;
    const change = `${event.sessionId.slice(0, 8)} ${event.from} → ${event.to}${event.reason ? ` (${event.reason})` : ''}`;
    watchedChanges.push(change);
    log(`held: watched session ${change}`);
  });
  try {
    for (let i = 0; i < watched; i++) {
      const session = await commands.sessions.create({ url, fps: 30, viewport: VIEWPORT, capture: 'tab' });
      watchedIds.add(session.id);
      const { viewer } = await watchWhenAdmitted(farm, `${base}/api/sessions/${session.id}/whep`);
      if (!viewer) throw new Error(`held: the watched session ${session.id} was never admitted`);
      viewers.push(viewer);
    }
    const heap0 = settledHeap();
    const hibernated: string[] = [];
    const started = performance.now();
    /** Seconds each tenth of the sessions took to create and hibernate (linear growth: flat). */
    const tenths: number[] = [];
    let tenthStarted = started;
    while (hibernated.length + watched < target) {
      const n = Math.min(batch, target - watched - hibernated.length);
      const created = await Promise.all(
        Array.from({ length: n }, () => commands.sessions.create({ url, viewport: VIEWPORT })),
      );
      for (const session of created) await commands.sessions.hibernate({ id: session.id });
      hibernated.push(...created.map((s) => s.id));
      if (hibernated.length >= ((tenths.length + 1) * (target - watched)) / 10) {
        tenths.push((performance.now() - tenthStarted) / 1000);
        tenthStarted = performance.now();
      }
      if (hibernated.length % 40 < batch) log(`held: ${hibernated.length + watched} sessions…`);
    }
    const fillSeconds = (performance.now() - started) / 1000;
    await sleep(2000);
    const frames0 = viewers.map((v) => v.counts.frames);
    const t0 = performance.now();
    await sleep(Math.min(SECONDS, 10) * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const fps = viewers.map((v, i) => (v.counts.frames - (frames0[i] ?? 0)) / elapsed).sort((a, b) => a - b);
    const states: Record<string, number> = {};
    for (const view of commands.sessions.list().sessions) states[view.state] = (states[view.state] ?? 0) + 1;
    const resumeMs: number[] = [];
    for (const id of hibernated.slice(0, 5)) {
      const t0r = performance.now();
      await commands.sessions.resume({ id: id });
      resumeMs.push(performance.now() - t0r);
      await commands.sessions.hibernate({ id: id });
    }
    return {
      held: hibernated.length + watched,
      watched,
      states,
      fillSeconds,
      watchedMinFps: fps[0] ?? 0,
      browsers: Object.keys(castpool.pool.getSnapshot().context.hosts).length,
      chromiumPssMb: chromiumPss(castpool),
      nodeRssMb: process.memoryUsage().rss / 2 ** 20,
      heapPerHibernatedKb: (settledHeap() - heap0) / hibernated.length / 1024,
      tenthSeconds: tenths.map((s) => round(s, 1)),
      resumeP50Ms: percentile(resumeMs, 50),
      watchedChanges: watchedChanges.slice(0, 20),
    };
  } finally {
    unsubscribe();
    await farm.close();
    await app.close();
  }
}
