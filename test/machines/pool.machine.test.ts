import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, SimulatedClock } from 'xstate';
import { browserHostMachine } from '../../src/machines/browser-host.machine.js';
import type { CaptureBudgetPolicy } from '../../src/machines/capture-budget.js';
import {
  activeSessionCount,
  isDegraded,
  poolMachine,
  type RenderRate,
  watchRefusal,
} from '../../src/machines/pool.machine.js';
import { sessionMachine, sessionStateName } from '../../src/machines/session.machine.js';
import { fakeCapture, fakePage, fakeViewer, params, policy, stats } from './fakes.js';

const waitForState = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
};
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
/** Moves a simulated clock on and lets the actors react (timers fired, events passed on). */
const advance = async (clock: SimulatedClock, ms: number) => {
  clock.increment(ms);
  await settle();
  await settle();
};

function startPool(
  options: {
    maxSessions?: number;
    sessionsPerBrowser?: number;
    launchFails?: boolean | number;
    captureBudget?: CaptureBudgetPolicy;
    restart?: { max: number; windowMs: number; backoffBaseMs: number; backoffMaxMs: number };
    idleTimeoutMs?: number;
    degrade?: { failures: number; windowMs: number };
    browserLingerMs?: number;
    renderRate?: RenderRate;
    /** Stats windows a new capture is not judged on (0 unless a test asks). */
    warmupWindows?: number;
    /** Time for the machines: delayed transitions and `now` (real time when absent). */
    clock?: SimulatedClock;
  } = {},
) {
  let launchAttempts = 0;
  const launched: string[] = [];
  const launchedHz: Record<string, number> = {};
  const closedBrowsers: string[] = [];
  const crashers = new Map<string, () => void>();
  const host = browserHostMachine.provide({
    actors: {
      launchBrowser: fromPromise(async ({ input }) => {
        launchAttempts++;
        const failing = options.launchFails === true || launchAttempts <= Number(options.launchFails ?? 0);
        if (failing) throw new Error('chromium not found');
        launched.push(input.hostId);
        launchedHz[input.hostId] = input.renderHz;
        return { hostId: input.hostId };
      }),
      watchBrowser: fromCallback(({ input, sendBack }) => {
        crashers.set(input.browser.hostId, () => sendBack({ type: 'browser.disconnected' }));
      }),
      closeBrowser: fromPromise(async ({ input }) => {
        if (input.browser) closedBrowsers.push(input.browser.hostId);
      }),
    },
  });
  const capture = fakeCapture();
  const session = sessionMachine.provide({
    actors: {
      openPage: fakePage,
      closePage: fromPromise(async () => {}),
      navigatePage: fromCallback(() => {}),
      watchPage: fromCallback(() => {}),
      dialogs: fromCallback(() => {}),
      downloads: fromCallback(() => {}),
      tabs: fromCallback(() => {}),
      widgets: fromCallback(() => {}),
      fileChooser: fromCallback(() => {}),
      sessionFiles: fromCallback(() => {}),
      hibernatePage: fromPromise(async () => ({ url: 'http://127.0.0.1/saved' })),
      capture: capture.logic,
      viewer: fakeViewer,
    },
  });
  const { clock } = options;
  const pool = createActor(poolMachine.provide({ actors: { session, browserHost: host } }), {
    ...(clock ? { clock } : {}),
    input: {
      ...(clock ? { now: () => clock.now() } : {}),
      ...(options.idleTimeoutMs ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
      ...(options.degrade ? { degrade: options.degrade } : {}),
      ...(options.browserLingerMs ? { browserLingerMs: options.browserLingerMs } : {}),
      ...(options.renderRate ? { renderRate: options.renderRate } : {}),
      maxSessions: options.maxSessions ?? 10,
      sessionsPerBrowser: options.sessionsPerBrowser ?? 2,
      throttle: { ...policy, warmupWindows: options.warmupWindows ?? policy.warmupWindows },
      restart: options.restart ?? { max: 3, windowMs: 60_000, backoffBaseMs: 1, backoffMaxMs: 4 },
      captureBudget: options.captureBudget,
    },
  }).start();
  const state = (id: string) => {
    const entry = pool.getSnapshot().context.sessions[id];
    return entry ? sessionStateName(entry.ref.getSnapshot().value) : 'gone';
  };
  const create = (sessionId: string, priority = params.priority, fps = params.fps) =>
    pool.send({ type: 'session.create', sessionId, params: { ...params, priority, fps } });
  return { pool, launched, launchedHz, closedBrowsers, crashers, state, create, capture };
}

/** A budget that moves on every check: one hot check halves it, one cool one lifts the CPU limit. */
const QUICK_BUDGET: CaptureBudgetPolicy = {
  totalFps: 50,
  adaptive: true,
  cpuHigh: 0.9,
  cpuLow: 0.5,
  shrinkAfterChecks: 1,
  growAfterChecks: 1,
  shrinkFactor: 0.5,
  growStepFps: 100,
  minSessionFps: 5,
  saturatedAdmitFactor: 2,
  maxWarmingSessions: 0,
};

describe('pool machine', () => {
  it('places sessions on browser hosts, sessionsPerBrowser at a time', async () => {
    const { pool, launched, state, create } = startPool({ sessionsPerBrowser: 2 });
    for (const id of ['a', 'b', 'c']) create(id);
    await settle();
    await settle();
    expect(launched).toEqual(['host-1', 'host-2']);
    expect(['a', 'b', 'c'].map(state)).toEqual(['idle', 'idle', 'idle']);
    const { hosts } = pool.getSnapshot().context;
    expect(hosts['host-1']?.sessionIds).toEqual(['a', 'b']);
    expect(hosts['host-2']?.sessionIds).toEqual(['c']);
  });

  it('puts sessions captured at ≤ 30 FPS in 30 Hz browsers and faster ones in 60 Hz browsers (renderRate capture)', async () => {
    const { pool, launchedHz, create } = startPool({ sessionsPerBrowser: 4, renderRate: 'capture' });
    create('slow-a', params.priority, 30);
    create('fast', params.priority, 60);
    create('slow-b', params.priority, 15);
    await settle();
    await settle();
    const { hosts } = pool.getSnapshot().context;
    expect(hosts['host-1']).toMatchObject({ sessionIds: ['slow-a', 'slow-b'], renderHz: 30 });
    expect(hosts['host-2']).toMatchObject({ sessionIds: ['fast'], renderHz: 60 });
    expect(launchedHz).toEqual({ 'host-1': 30, 'host-2': 60 });
  });

  it('composites every browser at 60 Hz under renderRate display (and by default)', async () => {
    for (const renderRate of ['display', undefined] as const) {
      const { pool, launchedHz, create } = startPool({
        sessionsPerBrowser: 4,
        ...(renderRate ? { renderRate } : {}),
      });
      create('slow', params.priority, 30);
      create('fast', params.priority, 60);
      await settle();
      await settle();
      expect(pool.getSnapshot().context.hosts['host-1']?.sessionIds).toEqual(['slow', 'fast']);
      expect(launchedHz).toEqual({ 'host-1': 60 });
    }
  });

  it('refuses sessions beyond maxSessions and duplicate ids', async () => {
    const { pool, create } = startPool({ maxSessions: 2 });
    create('a');
    create('a');
    create('b');
    create('c');
    expect(Object.keys(pool.getSnapshot().context.sessions)).toEqual(['a', 'b']);
    expect(activeSessionCount(pool.getSnapshot().context)).toBe(2);
  });

  it('forgets a closed session and closes its browser once empty', async () => {
    const { pool, closedBrowsers, state, create } = startPool({ sessionsPerBrowser: 2 });
    create('a');
    create('b');
    await settle();
    pool.send({ type: 'session.close', sessionId: 'a' });
    await settle();
    expect(state('a')).toBe('gone');
    expect(closedBrowsers).toEqual([]);
    pool.send({ type: 'session.close', sessionId: 'b' });
    await settle();
    await settle();
    expect(closedBrowsers).toEqual(['host-1']);
    expect(pool.getSnapshot().context.hosts).toEqual({});
    expect(Object.keys(pool.getSnapshot().children)).toEqual(['memoryWatch', 'hostLoad']); // no session or host left
  });

  it('restarts the sessions of a crashed browser on a new browser, after a backoff', async () => {
    const { pool, crashers, launched, state, create } = startPool({ sessionsPerBrowser: 3 });
    create('a');
    create('b');
    await settle();
    crashers.get('host-1')?.();
    await waitForState(() => state('a') === 'idle' && state('b') === 'idle');
    expect([state('a'), state('b')]).toEqual(['idle', 'idle']);
    expect(launched).toEqual(['host-1', 'host-2']); // both on one new browser
    expect(pool.getSnapshot().context.hosts['host-2']?.sessionIds).toEqual(['a', 'b']);
    const restarted = pool.getSnapshot().context.sessions.a?.ref.getSnapshot().context;
    expect(restarted?.restartsTotal).toBe(1);
    expect(restarted?.failure).toMatch(/exited/); // the last failure stays on record
  });

  it('retries a failing launch within the restart budget', async () => {
    const { state, create, launched } = startPool({ launchFails: 2 });
    create('a');
    await waitForState(() => state('a') === 'idle');
    expect(state('a')).toBe('idle');
    expect(launched).toEqual(['host-3']);
  });

  it('fails a session once its restart budget is spent, and holds nothing after', async () => {
    const { pool, state, create } = startPool({ launchFails: true });
    create('a');
    await waitForState(() => state('a') === 'failed');
    const context = pool.getSnapshot().context.sessions.a?.ref.getSnapshot().context;
    expect(state('a')).toBe('failed');
    expect(context?.restartsTotal).toBe(3);
    expect(context?.failure).toMatch(/chromium not found/);
    // failed sessions hold nothing and do not count against capacity
    expect(activeSessionCount(pool.getSnapshot().context)).toBe(0);
  });

  it('brings a failed session back when it is navigated or resumed, with a fresh restart budget', async () => {
    const { pool, state, create, launched } = startPool({ launchFails: 4 });
    create('a');
    await waitForState(() => state('a') === 'failed');
    const ref = pool.getSnapshot().context.sessions.a?.ref;
    expect(ref?.getSnapshot().context.restartsTotal).toBe(3);
    ref?.send({ type: 'navigate', requestId: 'r1', url: 'http://127.0.0.1/elsewhere' });
    await waitForState(() => state('a') === 'idle');
    expect(state('a')).toBe('idle');
    expect(launched).toEqual(['host-5']);
    const context = ref?.getSnapshot().context;
    expect([context?.url, context?.latestNavigationId, context?.failure]).toEqual([
      'http://127.0.0.1/elsewhere',
      'r1', // the page's first load answers the navigate request
      undefined,
    ]);
    expect(activeSessionCount(pool.getSnapshot().context)).toBe(1);
  });

  it('closes every session and browser on shutdown and then admits nothing', async () => {
    const { pool, closedBrowsers, create } = startPool({ sessionsPerBrowser: 1 });
    create('a');
    create('b');
    await settle();
    pool.send({ type: 'pool.shutdown' });
    await settle();
    await settle();
    expect(pool.getSnapshot().context.sessions).toEqual({});
    expect(closedBrowsers.sort()).toEqual(['host-1', 'host-2']);
    create('c');
    expect(pool.getSnapshot().context.sessions).toEqual({});
    expect(Object.keys(pool.getSnapshot().children)).toEqual(['memoryWatch', 'hostLoad']);
  });

  it('forgets a session actor that errored instead of failing itself', async () => {
    const { pool, create, state } = startPool();
    create('a');
    await settle();
    const ref = pool.getSnapshot().context.sessions.a?.ref;
    // An error inside the session (a bug in an action, say) reaches the pool as xstate.error.actor.*
    pool.send({ type: 'xstate.error.actor.session:a', error: new Error('boom') });
    expect(state('a')).toBe('gone');
    expect(ref?.getSnapshot().status).toBe('stopped');
    expect(pool.getSnapshot().status).toBe('active');
  });

  it('hibernates an idle session, frees its browser, and resumes it on a new one at the saved URL', async () => {
    const { pool, closedBrowsers, launched, state, create } = startPool({ sessionsPerBrowser: 1 });
    create('a');
    await settle();
    const ref = pool.getSnapshot().context.sessions.a?.ref;
    ref?.send({ type: 'hibernate', reason: 'requested' });
    await waitForState(() => state('a') === 'hibernated' && closedBrowsers.length === 1);
    expect(state('a')).toBe('hibernated');
    expect(closedBrowsers).toEqual(['host-1']);
    expect(activeSessionCount(pool.getSnapshot().context)).toBe(0);
    expect(ref?.getSnapshot().context.hibernation?.reason).toBe('requested');
    ref?.send({ type: 'resume' });
    await waitForState(() => state('a') === 'idle');
    expect(state('a')).toBe('idle');
    expect(launched).toEqual(['host-1', 'host-2']);
    expect(ref?.getSnapshot().context.url).toBe('http://127.0.0.1/saved');
    expect(ref?.getSnapshot().context.restartsTotal).toBe(0); // a resume is not a restart
  });

  it('under memory pressure hibernates the least recently viewed idle session, one per report', async () => {
    const { pool, state, create } = startPool({ sessionsPerBrowser: 4 });
    create('a');
    create('b');
    create('c');
    await settle();
    const ref = (id: string) => pool.getSnapshot().context.sessions[id]?.ref;
    await new Promise((resolve) => setTimeout(resolve, 5));
    ref('a')?.send({ type: 'viewer.join', viewer: { viewerId: 'v', codec: 'H264' } });
    ref('a')?.send({ type: 'viewer.left', viewerId: 'v' }); // a was viewed just now
    ref('c')?.send({ type: 'viewer.join', viewer: { viewerId: 'w', codec: 'H264' } }); // c is watched
    pool.send({ type: 'pool.memoryPressure', usedMb: 9999 });
    await waitForState(() => state('b') === 'hibernated');
    expect([state('a'), state('b'), state('c')]).toEqual(['idle', 'hibernated', 'streaming']);
    expect(ref('b')?.getSnapshot().context.hibernation?.reason).toBe('memory pressure');
  });

  it('shares a capture budget among watched sessions by priority and follows host CPU', async () => {
    const budget = QUICK_BUDGET;
    const { pool, create, capture } = startPool({ sessionsPerBrowser: 4, captureBudget: budget });
    create('high', 8);
    create('low', 2);
    create('unwatched', 9);
    await settle();
    const ref = (id: string) => pool.getSnapshot().context.sessions[id]?.ref;
    const shareOf = (id: string) => ref(id)?.getSnapshot().context.shareFps;
    ref('high')?.send({ type: 'viewer.join', viewer: { viewerId: 'v1', codec: 'H264' } });
    ref('low')?.send({ type: 'viewer.join', viewer: { viewerId: 'v2', codec: 'H264' } });
    pool.send({ type: 'pool.load', cpu: 0.6 });
    expect([shareOf('high'), shareOf('low'), shareOf('unwatched')]).toEqual([30, 20, null]);
    expect(capture.log.commands).toEqual([{ type: 'capture.rate', fps: 20 }]); // only the changed one
    // Hot host and falling behind (skipped frames): the total halves from what is delivered
    // (30 + 30) → 30; low keeps its floor.
    for (const id of ['high', 'low'])
      ref(id)?.send({ type: 'capture.stats', stats: { ...stats(true), deliveredFps: 30 } });
    pool.send({ type: 'pool.load', cpu: 0.99 });
    expect([shareOf('high'), shareOf('low')]).toEqual([25, 5]);
    expect(pool.getSnapshot().context.budget.cpuLimitFps).toBe(30);
    // Cool again: back to the fixed ceiling's shares.
    pool.send({ type: 'pool.load', cpu: 0.1 });
    expect([shareOf('high'), shareOf('low')]).toEqual([30, 20]);
    // The last viewer of high leaves: low gets the whole ceiling it asks for.
    ref('high')?.send({ type: 'viewer.left', viewerId: 'v1' });
    pool.send({ type: 'pool.load', cpu: 0.1 });
    expect(shareOf('low')).toBe(30);
    expect(capture.log.commands.at(-1)).toEqual({ type: 'capture.rate', fps: 30 });
  });

  it('refuses a new watched session once a hot host has shrunk the budget to the floors, and takes it again when cool', async () => {
    const budget: CaptureBudgetPolicy = { ...QUICK_BUDGET, totalFps: 0 };
    const { pool, create } = startPool({ sessionsPerBrowser: 4, captureBudget: budget });
    create('a');
    create('b');
    await settle();
    const ref = (id: string) => pool.getSnapshot().context.sessions[id]?.ref;
    for (const [id, viewerId] of [
      ['a', 'v1'],
      ['b', 'v2'],
    ] as const)
      ref(id)?.send({ type: 'viewer.join', viewer: { viewerId, codec: 'H264' } });
    pool.send({ type: 'pool.load', cpu: 0.6 });
    expect(watchRefusal(pool.getSnapshot().context)).toBeUndefined(); // not limited by CPU
    // Hot and falling behind, delivering little: the total shrinks down to the two floors (10).
    for (let round = 0; round < 4; round++) {
      for (const id of ['a', 'b'])
        ref(id)?.send({ type: 'capture.stats', stats: { ...stats(true), deliveredFps: 4 } });
      pool.send({ type: 'pool.load', cpu: 0.99 });
    }
    expect(pool.getSnapshot().context.budget.cpuLimitFps).toBe(10);
    expect(watchRefusal(pool.getSnapshot().context)).toEqual({
      reason: 'saturated',
      totalFps: 10,
      watched: 2,
      minSessionFps: 5,
    });
    // Cool again: room for another watched session.
    pool.send({ type: 'pool.load', cpu: 0.1 });
    expect(watchRefusal(pool.getSnapshot().context)).toBeUndefined();
  });

  describe('first viewers of a burst', () => {
    const watch = (pool: ReturnType<typeof startPool>['pool'], id: string) =>
      pool.getSnapshot().context.sessions[id]?.ref.send({
        type: 'viewer.join',
        viewer: { viewerId: `v-${id}`, codec: 'H264' },
      });

    it('are refused on a host at its limit when what it delivers now, shared by one more, leaves each under minSessionFps twice over', async () => {
      const budget: CaptureBudgetPolicy = { ...QUICK_BUDGET, totalFps: 0, shrinkAfterChecks: 3 };
      const { pool, create } = startPool({ sessionsPerBrowser: 4, captureBudget: budget });
      for (const id of ['a', 'b']) create(id);
      await settle();
      const delivering = (fps: number, behind = false) => {
        for (const id of ['a', 'b'])
          pool.getSnapshot().context.sessions[id]?.ref.send({
            type: 'capture.stats',
            stats: { ...stats(behind), deliveredFps: fps },
          });
      };
      watch(pool, 'a');
      watch(pool, 'b');
      for (let window = 0; window < 3; window++) delivering(7); // measured: past their settling windows
      // 14 frames/s in all: 4.7 each for three
      pool.send({ type: 'pool.load', cpu: 0.6 });
      expect(watchRefusal(pool.getSnapshot().context)).toBeUndefined(); // busy, nobody behind: room
      pool.send({ type: 'pool.load', cpu: 0.97 });
      expect(pool.getSnapshot().context.budget.cpuLimitFps).toBeNull(); // the budget has not moved
      expect(watchRefusal(pool.getSnapshot().context)).toEqual({
        reason: 'hot',
        cpu: 0.97,
        watched: 2,
        deliveredFps: 14,
        minSessionFps: 5,
        admitFps: 10,
      });
      delivering(14); // 28 in all: 9.3 each for three, over the floor but not twice over
      expect(watchRefusal(pool.getSnapshot().context)?.reason).toBe('hot');
      delivering(15); // 30 in all: 10 each for three
      expect(watchRefusal(pool.getSnapshot().context)).toBeUndefined();
      // …but not while another session's first viewer negotiates: 7.5 each for four.
      expect(watchRefusal(pool.getSnapshot().context, 1)).toMatchObject({ reason: 'hot', watched: 3 });
      // Between cpuLow and cpuHigh a session falling behind says the host is at its limit
      // (one thread of it, such as the browser's compositor, is).
      pool.send({ type: 'pool.load', cpu: 0.7 });
      delivering(10);
      expect(watchRefusal(pool.getSnapshot().context)).toBeUndefined(); // nobody behind: room
      delivering(10, true); // skipping frames: behind
      expect(watchRefusal(pool.getSnapshot().context)).toMatchObject({ reason: 'hot', deliveredFps: 20 });
      pool.send({ type: 'pool.load', cpu: 0.5 });
      delivering(1, true);
      expect(watchRefusal(pool.getSnapshot().context)).toBeUndefined(); // cool: room whatever is delivered
    });

    it('are taken maxWarmingSessions at a time: the next waits until one is measured, or its capture has not reported for 10 s', async () => {
      const clock = new SimulatedClock();
      clock.set(1_000_000);
      const budget: CaptureBudgetPolicy = { ...QUICK_BUDGET, totalFps: 0, maxWarmingSessions: 2 };
      const { pool, create } = startPool({
        sessionsPerBrowser: 4,
        captureBudget: budget,
        warmupWindows: 2,
        clock,
      });
      for (const id of ['a', 'b', 'c']) create(id);
      await settle();
      const ref = (id: string) => pool.getSnapshot().context.sessions[id]?.ref;
      watch(pool, 'a');
      expect(watchRefusal(pool.getSnapshot().context)).toBeUndefined();
      // A hot start-up: a's 0 frames/s while warming up say nothing of what the host delivers.
      pool.send({ type: 'pool.load', cpu: 0.99 });
      expect(watchRefusal(pool.getSnapshot().context)).toBeUndefined();
      watch(pool, 'b');
      expect(watchRefusal(pool.getSnapshot().context)).toEqual({ reason: 'warming', warming: 2 });
      // a's two warm-up windows and three more (its cost shows in what the others get): one slot free.
      for (let window = 0; window < 4; window++)
        ref('a')?.send({ type: 'capture.stats', stats: stats(false) });
      expect(watchRefusal(pool.getSnapshot().context)?.reason).toBe('warming');
      ref('a')?.send({ type: 'capture.stats', stats: stats(false) });
      expect(watchRefusal(pool.getSnapshot().context)).toBeUndefined();
      pool.send({ type: 'pool.load', cpu: 0.6 }); // cooler: only the warming limit holds c back
      watch(pool, 'c');
      expect(watchRefusal(pool.getSnapshot().context)).toEqual({ reason: 'warming', warming: 2 });
      // b and c never report: after 10 s they no longer hold the door.
      await advance(clock, 9_999);
      expect(watchRefusal(pool.getSnapshot().context)?.reason).toBe('warming');
      await advance(clock, 1);
      expect(watchRefusal(pool.getSnapshot().context)).toBeUndefined();
      // First viewers still negotiating (not watched yet) hold the door like warming sessions: a
      // burst arriving together does not pass on one snapshot.
      expect(watchRefusal(pool.getSnapshot().context, 1)).toBeUndefined();
      expect(watchRefusal(pool.getSnapshot().context, 2)).toEqual({ reason: 'warming', warming: 2 });
    });
  });

  describe('on an injected clock (no real timers)', () => {
    it('backs off, restarts within the budget, fails past it, and forgets restarts older than the window', async () => {
      const clock = new SimulatedClock();
      clock.set(1_000_000);
      const restart = { max: 2, windowMs: 60_000, backoffBaseMs: 10_000, backoffMaxMs: 40_000 };
      const { crashers, state, create, pool } = startPool({ clock, restart, sessionsPerBrowser: 1 });
      const crash = async () => {
        const hostId = pool.getSnapshot().context.sessions.a?.hostId as string;
        crashers.get(hostId)?.();
        await settle();
      };
      create('a');
      await settle();
      expect(state('a')).toBe('idle');
      await crash();
      expect(state('a')).toBe('restarting');
      await advance(clock, 9_999); // the first backoff is 10 s: still waiting
      expect(state('a')).toBe('restarting');
      await advance(clock, 1);
      expect(state('a')).toBe('idle');
      await crash(); // second restart in the window: backoff doubled
      await advance(clock, 19_999);
      expect(state('a')).toBe('restarting');
      await advance(clock, 1);
      expect(state('a')).toBe('idle');
      // A third crash within 60 s of the first: the budget (2) is spent.
      clock.increment(5_000);
      await crash();
      expect(state('a')).toBe('failed');
      expect(pool.getSnapshot().context.sessions.a?.ref.getSnapshot().context.restartsTotal).toBe(2);

      // Another session, crashing once a window apart each time, restarts every time.
      create('b');
      await settle();
      await settle();
      for (let round = 0; round < 3; round++) {
        clock.increment(61_000);
        const hostId = pool.getSnapshot().context.sessions.b?.hostId as string;
        crashers.get(hostId)?.();
        await settle();
        await advance(clock, 10_000);
        expect(state('b'), `round ${round}`).toBe('idle');
      }
    });

    it('hibernates an unwatched session after the idle timeout, and names when', async () => {
      const clock = new SimulatedClock();
      clock.set(5_000_000);
      const { state, create, pool } = startPool({ clock, idleTimeoutMs: 300_000 });
      create('a');
      await settle();
      expect(state('a')).toBe('idle');
      await advance(clock, 299_999);
      expect(state('a')).toBe('idle');
      await advance(clock, 1);
      expect(state('a')).toBe('hibernated');
      const { hibernation } = pool.getSnapshot().context.sessions.a?.ref.getSnapshot().context ?? {};
      expect(hibernation).toEqual({ at: 5_300_000, reason: 'idle timeout' });
    });

    it('goes degraded on launch failures within the window, and recovers when they age out', async () => {
      const clock = new SimulatedClock();
      clock.set(10_000_000);
      const degrade = { failures: 2, windowMs: 60_000 };
      const { pool, create } = startPool({ clock, launchFails: 2, degrade });
      create('a');
      await settle();
      await settle();
      create('b');
      await settle();
      await settle();
      const context = () => pool.getSnapshot().context;
      expect(context().launchFailures).toHaveLength(2);
      expect(isDegraded(context())).toBe(true);
      clock.increment(61_000); // past the window
      expect(isDegraded(context())).toBe(false);
    });

    it('keeps an emptied browser for the next session for browserLingerMs, then closes it', async () => {
      const clock = new SimulatedClock();
      clock.set(1_000);
      const { pool, launched, closedBrowsers, state, create } = startPool({ clock, browserLingerMs: 10_000 });
      create('a');
      await settle();
      pool.send({ type: 'session.close', sessionId: 'a' });
      await settle();
      await settle();
      expect(closedBrowsers).toEqual([]);
      expect(pool.getSnapshot().context.hosts['host-1']).toMatchObject({ sessionIds: [], idleSince: 1_000 });
      clock.increment(9_000);
      create('b'); // within the linger: same browser, no launch
      await settle();
      expect(state('b')).toBe('idle');
      expect(launched).toEqual(['host-1']);
      await advance(clock, 5_000); // a's linger would have ended now: b holds the browser
      expect(closedBrowsers).toEqual([]);
      pool.send({ type: 'session.close', sessionId: 'b' });
      await settle();
      await settle();
      await advance(clock, 9_999);
      expect(closedBrowsers).toEqual([]);
      await advance(clock, 1);
      expect(closedBrowsers).toEqual(['host-1']);
      await waitForState(() => Object.keys(pool.getSnapshot().context.hosts).length === 0);
      expect(pool.getSnapshot().context.hosts).toEqual({});
    });
  });
});
