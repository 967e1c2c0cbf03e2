/** Fan-out: one session's single encode sent to many viewers. */
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { cpuShare, readCpuTimes } from '../src/actors/host-load.js';
import {
  nodeCpuSeconds,
  percentile,
  round,
  SECONDS,
  sleep,
  startedCpuSeconds,
  startService,
  VIEWPORT,
  WARMUP_MS,
} from './util.js';
import { type FarmViewer, startViewerFarm } from './viewer-farm.js';

/** Viewers join in waves of this many, as a class or a watch party would arrive. */
const WAVE = 10;

/**
 * `viewers` werift viewers (spread over `farms` processes of their own) watch one full-motion session
 * at 30 FPS, tab capture. Measured over the window: each viewer's frame rate, castpool's own process
 * (relay, SRTP, RTCP for every viewer: Node), the session's browser, the farms, and castpool's event
 * loop delay (whether the main thread is the limit).
 */
export async function fanOut(url: string, viewers: number, farms = 2) {
  const service = await startService({
    limits: { viewersPerSession: viewers, viewersPerNode: viewers },
  });
  const { app, castpool, commands, base } = service;
  const farmPool = Array.from({ length: farms }, () => startViewerFarm());
  const watching: FarmViewer[] = [];
  let failedJoins = 0;
  try {
    const session = await commands.sessions.create({ url, fps: 30, viewport: VIEWPORT, capture: 'tab' });
    const whep = `${base}/api/sessions/${session.id}/whep`;
    const joinStarted = performance.now();
    for (let wave = 0; wave < viewers; wave += WAVE) {
      const joins = await Promise.allSettled(
        Array.from({ length: Math.min(WAVE, viewers - wave) }, (_, i) =>
          (farmPool[(wave + i) % farms] as ReturnType<typeof startViewerFarm>).watch(whep),
        ),
      );
      for (const join of joins) {
        if (join.status === 'fulfilled') watching.push(join.value);
        else failedJoins++;
      }
    }
    const joinSeconds = (performance.now() - joinStarted) / 1000;
    await sleep(3000 + WARMUP_MS);
    const frames0 = watching.map((v) => v.counts.frames);
    const bytes0 = watching.reduce((sum, v) => sum + v.counts.bytes, 0);
    const node0 = nodeCpuSeconds();
    const browser0 = startedCpuSeconds(castpool);
    const farms0 = farmPool.map((farm) => farm.cpuSeconds());
    const host0 = readCpuTimes();
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    loop.disable();
    const percentOfCore = (seconds: number) => (seconds / elapsed) * 100;
    const fps = watching.map((v, i) => (v.counts.frames - (frames0[i] ?? 0)) / elapsed).sort((a, b) => a - b);
    const connects = watching.map((v) => v.connectMs());
    const bytes = watching.reduce((sum, v) => sum + v.counts.bytes, 0) - bytes0;
    return {
      viewers,
      farms,
      connected: watching.filter((v) => v.state() === 'connected').length,
      failedJoins,
      joinSeconds,
      /** The slowest offer-to-connected (null: one never connected). */
      slowestConnectMs: connects.some((ms) => ms === null) ? null : Math.max(0, ...(connects as number[])),
      medianConnectMs: percentile(
        connects.filter((ms): ms is number => ms !== null),
        50,
      ),
      minFps: fps[0] ?? 0,
      medianFps: percentile(fps, 50),
      viewersUnder28: fps.filter((f) => f < 28).length,
      /** castpool's own process (this one: the bench runs castpool in-process; the farms are children). */
      castpoolCpuPct: percentOfCore(nodeCpuSeconds() - node0),
      browserCpuPct: percentOfCore(startedCpuSeconds(castpool) - browser0),
      farmsCpuPct: percentOfCore(
        farmPool.reduce((sum, farm, i) => sum + farm.cpuSeconds() - (farms0[i] ?? 0), 0),
      ),
      hostCpuPct: cpuShare(host0, readCpuTimes()) * cpus().length * 100,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      megabitsOut: (bytes * 8) / elapsed / 1e6,
      fpsPerViewer: fps.map((f) => round(f, 1)),
    };
  } finally {
    await Promise.all(farmPool.map((farm) => farm.close()));
    await app.close();
  }
}
