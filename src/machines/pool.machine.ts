/*
 * One statechart with the pure functions its guards share with the command layer (admission,
 * active count, budget demands): over 300 lines on purpose, so the pool's decisions read in one file.
 */
import { type ActorRefFrom, type AnyActorRef, assign, enqueueActions, fromCallback, setup } from 'xstate';
import { browserHostMachine, type HostReport, type RenderHz } from './browser-host.machine.js';
import {
  allocateShares,
  type BudgetDemand,
  budgetTotalFps,
  type CaptureBudgetPolicy,
  type CaptureBudgetState,
  initialBudgetState,
  isStruggling,
  nextBudgetState,
} from './capture-budget.js';
import type { ControlRules } from './control-lease.js';
import {
  type RecordingLimits,
  type RestartPolicy,
  type SavedPage,
  type SessionActorRef,
  sessionMachine,
} from './session.machine.js';
import type { SessionParams, ThrottlePolicy } from './types.js';

/** Too many browser failures this close together: refuse new sessions, keep the running ones. */
export interface DegradePolicy {
  failures: number;
  windowMs: number;
}

export interface PoolInput {
  degrade?: DegradePolicy;
  now?: () => number;
  maxSessions: number;
  sessionsPerBrowser: number;
  throttle: ThrottlePolicy;
  restart?: RestartPolicy;
  idleTimeoutMs?: number;
  /** Unwatched this long, sessions whose `unwatched` is `frozen` freeze their pages. */
  freezeAfterMs?: number;
  /** Tabs each session may have open at once. */
  maxTabs?: number;
  /** Who drives a session by default, and when a hold got by acting lapses. */
  control?: ControlRules;
  /** What each session's recordings may keep. */
  recordingLimits?: RecordingLimits;
  captureBudget?: CaptureBudgetPolicy;
  /** An emptied browser stays up this long for the next session (0: it closes at once). */
  browserLingerMs?: number;
  /** `capture`: sessions captured at ≤ 30 FPS share browsers that composite at 30 Hz; `display`: all at 60 Hz. */
  renderRate?: RenderRate;
}

export type RenderRate = 'capture' | 'display';

/**
 * The compositing rate a session's browser needs: a page drawn at 60 Hz and captured at 30 FPS
 * spends half its compositing on frames nobody sees.
 */
export function renderHzFor(fps: number, renderRate: RenderRate | undefined): RenderHz {
  return renderRate === 'capture' && fps <= 30 ? 30 : 60;
}

export interface SessionEntry {
  ref: SessionActorRef;
  hostId: string;
  /** The compositing rate of the browsers this session may be placed on. */
  renderHz: RenderHz;
}

export interface HostEntry {
  ref: AnyActorRef;
  renderHz: RenderHz;
  sessionIds: string[];
  /** False once crashed or asked to close: no new sessions go there. */
  accepting: boolean;
  /** Since when it has been empty and lingering (`browserLingerMs`), waiting for a next session. */
  idleSince?: number;
}

export interface PoolContext extends PoolInput {
  sessions: Record<string, SessionEntry>;
  hosts: Record<string, HostEntry>;
  hostSeq: number;
  shuttingDown: boolean;
  /** Recent browser launch failures (for `degraded`). */
  launchFailures: { at: number; reason: string }[];
  budget: CaptureBudgetState;
  /** The last allocation: watched session id → frames/s. */
  shares: Record<string, number>;
}

/** What every watched session asks of the capture budget now. */
export function budgetDemands(context: PoolContext): BudgetDemand[] {
  const demands: BudgetDemand[] = [];
  const now = (context.now ?? Date.now)();
  for (const [sessionId, { ref }] of Object.entries(context.sessions)) {
    const snapshot = ref.getSnapshot();
    if (snapshot.status !== 'active' || !snapshot.hasTag('watched')) continue;
    const { params, currentFps, stats, peakFps, shareFps, windowsSinceStart, watchedSince, throttle } =
      snapshot.context;
    const warmedUp = windowsSinceStart >= throttle.warmupWindows;
    demands.push({
      sessionId,
      priority: params.priority,
      fps: currentFps,
      deliveredFps: stats.deliveredFps,
      struggling: isStruggling({
        throttled: snapshot.hasTag('throttled'),
        busyDrops: stats.busyDrops,
        deliveredFps: stats.deliveredFps,
        peakFps,
        // Held to a share, it is measured against what it may deliver.
        fps: shareFps === null ? currentFps : Math.min(currentFps, shareFps),
        warmedUp,
      }),
      // A capture that never reports is not waited for past WARMING_LIMIT_MS.
      warming:
        windowsSinceStart < throttle.warmupWindows + SETTLE_WINDOWS && now - watchedSince < WARMING_LIMIT_MS,
    });
  }
  return demands;
}

/** Degraded: `degrade.failures` browser launches failed within `degrade.windowMs`. */
export function isDegraded(context: PoolContext): boolean {
  const policy = context.degrade;
  if (!policy) return false;
  const since = (context.now ?? Date.now)() - policy.windowMs;
  return context.launchFailures.filter((f) => f.at > since).length >= policy.failures;
}

export type PoolEvent =
  | { type: 'session.create'; sessionId: string; params: SessionParams; saved?: SavedPage }
  | { type: 'session.close'; sessionId: string }
  | { type: 'pool.shutdown' }
  | { type: 'session.rehost'; sessionId: string }
  | { type: 'session.release'; sessionId: string }
  | { type: 'pool.memoryPressure'; usedMb: number }
  /** Host CPU (0–1 of all cores), sampled every capture-budget check. */
  | { type: 'pool.load'; cpu: number }
  /** A lingering browser's time is up (ignored if a session came, or it emptied again since). */
  | { type: 'pool.hostIdle'; hostId: string; since: number }
  | HostReport
  | { type: `xstate.done.actor.${string}` }
  | { type: `xstate.error.actor.${string}`; error: unknown };

const SESSION_ACTOR_PREFIX = 'session:';
/** A session's child-actor id; its done event is `xstate.done.actor.session:<id>`. */
export const sessionActorId = (sessionId: string) => `${SESSION_ACTOR_PREFIX}${sessionId}`;
/** The session id in a child's done or error event type, if the child is a session. */
const finishedSessionId = (eventType: string) => {
  const actorId = eventType.replace(/^xstate\.(done|error)\.actor\./, '');
  return actorId.startsWith(SESSION_ACTOR_PREFIX) ? actorId.slice(SESSION_ACTOR_PREFIX.length) : undefined;
};

/** Why this node takes no new session now (undefined: it does). Also words the refusal to clients. */
export type AdmissionRefusal =
  | { reason: 'shutting-down' }
  | { reason: 'degraded'; failures: number; lastFailure: string }
  | { reason: 'full'; maxSessions: number };

export function admissionRefusal(context: PoolContext): AdmissionRefusal | undefined {
  if (context.shuttingDown) return { reason: 'shutting-down' };
  if (isDegraded(context))
    return {
      reason: 'degraded',
      failures: context.launchFailures.length,
      lastFailure: context.launchFailures.at(-1)?.reason ?? 'unknown',
    };
  if (activeSessionCount(context) >= context.maxSessions)
    return { reason: 'full', maxSessions: context.maxSessions };
  return undefined;
}

/** Why this host takes no new watched session now: its capture budget has no floor left to give. */
export type WatchRefusal =
  | {
      /** The budget in force cannot give one more watched session its floor. */
      reason: 'saturated';
      /** The capture budget's total in force (frames/s across watched sessions). */
      totalFps: number;
      watched: number;
      minSessionFps: number;
    }
  | {
      /**
       * The host is at its limit (CPU over `cpuHigh`, or over `cpuLow` with a watched session falling
       * behind): it delivers about what it delivers now, and that shared by one more session would
       * leave each less than `admitFps` (`minSessionFps` × `saturatedAdmitFactor`).
       */
      reason: 'hot';
      cpu: number;
      watched: number;
      deliveredFps: number;
      minSessionFps: number;
      /** The share one more session would leave each must reach this. */
      admitFps: number;
    }
  | {
      /** `maxWarmingSessions` sessions began being watched lately and are not measured yet. */
      reason: 'warming';
      warming: number;
    };

/** A watched session counts as warming up at most this long (a capture that never reports stats). */
const WARMING_LIMIT_MS = 10_000;

/**
 * Stats windows past the capture's warm-up before a new watched session's cost shows in what the
 * others deliver: taken on the first measured window, 4 sessions were in within 4.9 s and then got
 * 2–5 FPS each (bench `admission`, slow day).
 */
const SETTLE_WINDOWS = 3;

/**
 * A session that starts being watched adds an encode; its viewer is refused before anything starts
 * when taking it would starve somebody:
 * - the capture budget in force (shrunk by a hot host) cannot give it `minSessionFps` on top of every
 *   watched session's floor;
 * - the host is at its limit, so it cannot deliver more frames than it does now, and those shared by
 *   one more session leave each less than `minSessionFps` × `saturatedAdmitFactor`. At its
 *   limit: the last CPU check over `cpuHigh`, or over `cpuLow` while a measured session falls behind —
 *   tab capture saturates one thread (the browser's compositor) first: 4 sessions at 14 of 30 FPS
 *   with the host at 83 %. The budget only shrinks after `shrinkAfterChecks` hot checks with a session
 *   visibly falling behind, and a session starved from its start never looks like one: 16 screencast
 *   sessions got 3–4 FPS each, unlimited;
 * - `maxWarmingSessions` sessions began being watched lately and their cost is not measured yet (a
 *   burst of 32 first viewers within seconds, all taken before the first CPU check, left 2 cores at
 *   a load of 90 and renderers too starved to answer their probes).
 * Viewers of a session already watched share its encode and are never refused here. `starting`:
 * sessions whose first viewer is negotiating now (not watched yet, their encode about to start): a
 * burst of first viewers that arrives together must not all pass on the same snapshot.
 */
export function watchRefusal(context: PoolContext, starting = 0): WatchRefusal | undefined {
  const policy = context.captureBudget;
  if (!policy) return undefined;
  const demands = budgetDemands(context);
  // Sessions whose first viewer negotiates now are watched in a moment: they count as warming ones.
  const watched = demands.length + starting;
  const total = budgetTotalFps(policy, context.budget);
  if (total !== null) {
    const floors =
      demands.reduce((sum, d) => sum + Math.min(d.fps, policy.minSessionFps), 0) +
      starting * policy.minSessionFps;
    if (total - floors < policy.minSessionFps)
      return {
        reason: 'saturated',
        totalFps: total,
        watched,
        minSessionFps: policy.minSessionFps,
      };
  }
  if (!policy.adaptive) return undefined;
  // Only measured sessions say what the host delivers: one still warming up delivers ~0 by nature
  // (and a hot start-up is what the warming limit is for).
  const measured = demands.filter((d) => !d.warming);
  const { cpu } = context.budget;
  const atLimit = cpu > policy.cpuHigh || (cpu > policy.cpuLow && measured.some((d) => d.struggling));
  if (atLimit && measured.length > 0) {
    const deliveredFps = measured.reduce((sum, d) => sum + d.deliveredFps, 0);
    const admitFps = policy.minSessionFps * policy.saturatedAdmitFactor;
    if (deliveredFps / (watched + 1) < admitFps)
      return {
        reason: 'hot',
        cpu,
        watched,
        deliveredFps: Math.round(deliveredFps),
        minSessionFps: policy.minSessionFps,
        admitFps,
      };
  }
  const warming = demands.filter((d) => d.warming).length + starting;
  if (policy.maxWarmingSessions > 0 && warming >= policy.maxWarmingSessions)
    return { reason: 'warming', warming };
  return undefined;
}

/** Sessions that hold (or are acquiring) browser resources; failed and hibernated ones hold none. */
export function activeSessionCount(context: PoolContext): number {
  let count = 0;
  for (const { ref } of Object.values(context.sessions)) {
    const snapshot = ref.getSnapshot();
    if (snapshot.status === 'active' && !snapshot.hasTag('released')) count++;
  }
  return count;
}

/**
 * A host whose last session left: it lingers for the next session (`browserLingerMs`), or closes.
 * Returns the host's new entry; the close (or the delayed `pool.hostIdle`) is enqueued.
 */
function emptied(
  context: PoolContext,
  hostId: string,
  host: HostEntry,
  enqueue: {
    sendTo: (ref: AnyActorRef, event: { type: 'host.close' }) => void;
    raise: (event: PoolEvent, options: { delay: number }) => void;
  },
): HostEntry {
  const linger = context.browserLingerMs ?? 0;
  if (linger > 0 && host.accepting && !context.shuttingDown) {
    const since = (context.now ?? Date.now)();
    enqueue.raise({ type: 'pool.hostIdle', hostId, since }, { delay: linger });
    return { ...host, sessionIds: [], idleSince: since };
  }
  enqueue.sendTo(host.ref, { type: 'host.close' });
  return { ...host, sessionIds: [], accepting: false, idleSince: undefined };
}

/** Each browser host's CPU priority: the highest capture priority among its sessions. */
export function hostPriorities(context: PoolContext): Record<string, number> {
  const priorities: Record<string, number> = {};
  for (const [hostId, host] of Object.entries(context.hosts)) {
    let highest = 0;
    for (const sessionId of host.sessionIds) {
      const priority = context.sessions[sessionId]?.ref.getSnapshot().context.params.priority ?? 0;
      highest = Math.max(highest, priority);
    }
    if (highest > 0) priorities[hostId] = highest;
  }
  return priorities;
}

function pickHost(context: PoolContext, renderHz: RenderHz): string | undefined {
  for (const [hostId, host] of Object.entries(context.hosts))
    if (host.accepting && host.renderHz === renderHz && host.sessionIds.length < context.sessionsPerBrowser)
      return hostId;
  return undefined;
}

/** Admission, placement on browser hosts, and the end of every session and host. */
export const poolMachine = setup({
  types: {
    context: {} as PoolContext,
    input: {} as PoolInput,
    events: {} as PoolEvent,
  },
  actors: {
    session: sessionMachine,
    browserHost: browserHostMachine,
    memoryWatch: fromCallback(() => () => {}),
    hostLoad: fromCallback(() => () => {}),
  },
  guards: {
    hasCapacity: ({ context, event }) =>
      event.type === 'session.create' && !context.sessions[event.sessionId] && !admissionRefusal(context),
  },
  actions: {
    /** A new session starts without a browser; placing it is the same step as re-hosting one. */
    admitSession: enqueueActions(({ event, enqueue }) => {
      if (event.type !== 'session.create') return;
      const { sessionId, params, saved } = event;
      enqueue.assign({
        sessions: ({ context, spawn }) => ({
          ...context.sessions,
          [sessionId]: {
            ref: spawn('session', {
              id: sessionActorId(sessionId),
              input: {
                sessionId,
                params,
                throttle: context.throttle,
                restart: context.restart,
                idleTimeoutMs: context.idleTimeoutMs,
                ...(context.freezeAfterMs !== undefined ? { freezeAfterMs: context.freezeAfterMs } : {}),
                ...(context.maxTabs ? { maxTabs: context.maxTabs } : {}),
                ...(context.control ? { control: context.control } : {}),
                ...(context.recordingLimits ? { recordingLimits: context.recordingLimits } : {}),
                saved,
                // The pool's clock is its sessions' clock (a simulated one in tests).
                ...(context.now ? { now: context.now } : {}),
              },
            }),
            hostId: '',
            renderHz: renderHzFor(params.fps, context.renderRate),
          },
        }),
      });
      enqueue.raise({ type: 'session.rehost', sessionId });
    }),
    /** A new, restarting or resuming session needs a browser: an accepting host with room, or a new one. */
    placeSession: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'session.rehost') return;
      const { sessionId } = event;
      const entry = context.sessions[sessionId];
      if (!entry || context.shuttingDown) return;
      const hosts = { ...context.hosts };
      const old = hosts[entry.hostId];
      if (old) {
        enqueue.sendTo(old.ref, { type: 'host.detach', sessionId });
        hosts[entry.hostId] = { ...old, sessionIds: old.sessionIds.filter((id) => id !== sessionId) };
      }
      let hostSeq = context.hostSeq;
      let hostId = pickHost({ ...context, hosts }, entry.renderHz);
      if (!hostId) {
        hostSeq++;
        const id = `host-${hostSeq}`;
        hostId = id;
        enqueue.assign({
          hosts: ({ spawn }) => ({
            ...hosts,
            [id]: {
              ref: spawn('browserHost', { id, input: { hostId: id, renderHz: entry.renderHz } }),
              renderHz: entry.renderHz,
              sessionIds: [],
              accepting: true,
            },
          }),
          hostSeq,
        });
      } else enqueue.assign({ hosts });
      const placedOn = hostId;
      enqueue.assign(({ context: ctx }) => {
        const host = ctx.hosts[placedOn] as HostEntry;
        return {
          sessions: { ...ctx.sessions, [sessionId]: { ...entry, hostId: placedOn } },
          hosts: {
            ...ctx.hosts,
            [placedOn]: { ...host, sessionIds: [...host.sessionIds, sessionId], idleSince: undefined },
          },
        };
      });
      enqueue.sendTo(({ context: ctx }) => (ctx.hosts[placedOn] as HostEntry).ref, {
        type: 'host.attach',
        sessionId,
        session: entry.ref,
      });
    }),
    /** A hibernated session gave its page back: its browser closes if nothing else runs there. */
    releaseHost: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'session.release') return;
      const entry = context.sessions[event.sessionId];
      const host = entry && context.hosts[entry.hostId];
      if (!entry || !host) return;
      const sessionIds = host.sessionIds.filter((id) => id !== event.sessionId);
      enqueue.sendTo(host.ref, { type: 'host.detach', sessionId: event.sessionId });
      const next =
        sessionIds.length === 0 ? emptied(context, entry.hostId, host, enqueue) : { ...host, sessionIds };
      enqueue.assign({ hosts: { ...context.hosts, [entry.hostId]: next } });
    }),
    /** Over the memory budget: the least recently viewed idle session hibernates (one per check). */
    hibernateLeastRecentlyViewed: enqueueActions(({ context, enqueue }) => {
      let pick: SessionEntry | undefined;
      for (const entry of Object.values(context.sessions)) {
        const snapshot = entry.ref.getSnapshot();
        // Only an unwatched live session hibernates (idle: live, not watched).
        if (snapshot.status !== 'active' || !snapshot.hasTag('live') || snapshot.hasTag('watched')) continue;
        if (!pick || snapshot.context.lastViewedAt < pick.ref.getSnapshot().context.lastViewedAt)
          pick = entry;
      }
      if (pick) enqueue.sendTo(pick.ref, { type: 'hibernate', reason: 'memory pressure' });
    }),
    /** Moves the budget with host CPU and hands each watched session its share (only changes are sent). */
    shareCaptureBudget: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'pool.load' || !context.captureBudget) return;
      const policy = context.captureBudget;
      const demands = budgetDemands(context);
      const budget = nextBudgetState(context.budget, event.cpu, demands, policy);
      const total = budgetTotalFps(policy, budget);
      const shares = allocateShares(demands, total, policy.minSessionFps);
      for (const { sessionId } of demands) {
        const ref = context.sessions[sessionId]?.ref;
        const fps = total === null ? null : (shares[sessionId] ?? null);
        if (ref && ref.getSnapshot().context.shareFps !== fps)
          enqueue.sendTo(ref, { type: 'budget.share', fps });
      }
      enqueue.assign({ budget, shares });
    }),
    closeSession: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'session.close') return;
      const entry = context.sessions[event.sessionId];
      if (entry) enqueue.sendTo(entry.ref, { type: 'close' });
    }),
    forgetSession: enqueueActions(({ context, event, enqueue }) => {
      const sessionId = finishedSessionId(event.type);
      const entry = sessionId === undefined ? undefined : context.sessions[sessionId];
      if (!sessionId || !entry) return;
      enqueue.stopChild(entry.ref);
      const { [sessionId]: _gone, ...sessions } = context.sessions;
      const host = context.hosts[entry.hostId];
      const hosts = { ...context.hosts };
      if (host) {
        const sessionIds = host.sessionIds.filter((id) => id !== sessionId);
        enqueue.sendTo(host.ref, { type: 'host.detach', sessionId });
        // An empty browser closes, or lingers for the next session (memory per browser vs ~1–2 s start-up).
        hosts[entry.hostId] =
          sessionIds.length === 0 ? emptied(context, entry.hostId, host, enqueue) : { ...host, sessionIds };
      }
      enqueue.assign({ sessions, hosts });
    }),
    /** A lingering browser nobody took: it closes now (unless a session came, or it emptied again since). */
    closeIdleHost: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'pool.hostIdle') return;
      const host = context.hosts[event.hostId];
      if (!host || host.sessionIds.length > 0 || host.idleSince !== event.since) return;
      enqueue.sendTo(host.ref, { type: 'host.close' });
      enqueue.assign({
        hosts: { ...context.hosts, [event.hostId]: { ...host, accepting: false, idleSince: undefined } },
      });
    }),
    stopAcceptingOnHost: assign(({ context, event }) => {
      if (event.type !== 'host.crashed') return {};
      const host = context.hosts[event.hostId];
      return host ? { hosts: { ...context.hosts, [event.hostId]: { ...host, accepting: false } } } : {};
    }),
    forgetHost: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'host.closed') return;
      if (event.launchFailure) {
        const now = (context.now ?? Date.now)();
        const since = now - (context.degrade?.windowMs ?? 60_000);
        enqueue.assign({
          launchFailures: [
            ...context.launchFailures.filter((f) => f.at > since),
            { at: now, reason: event.launchFailure },
          ],
        });
      }
      const host = context.hosts[event.hostId];
      if (!host) return;
      enqueue.stopChild(host.ref);
      const { [event.hostId]: _gone, ...hosts } = context.hosts;
      enqueue.assign({ hosts });
    }),
    closeEverything: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ shuttingDown: true });
      for (const { ref } of Object.values(context.sessions)) enqueue.sendTo(ref, { type: 'close' });
      for (const host of Object.values(context.hosts))
        if (host.sessionIds.length === 0) enqueue.sendTo(host.ref, { type: 'host.close' });
    }),
  },
}).createMachine({
  id: 'pool',
  invoke: [
    { id: 'memoryWatch', src: 'memoryWatch' },
    { id: 'hostLoad', src: 'hostLoad' },
  ],
  context: ({ input }) => ({
    ...input,
    sessions: {},
    hosts: {},
    hostSeq: 0,
    shuttingDown: false,
    launchFailures: [],
    budget: initialBudgetState,
    shares: {},
  }),
  on: {
    'session.create': { guard: 'hasCapacity', actions: 'admitSession' },
    'session.close': { actions: 'closeSession' },
    'session.rehost': { actions: 'placeSession' },
    'session.release': { actions: 'releaseHost' },
    'pool.memoryPressure': { actions: 'hibernateLeastRecentlyViewed' },
    'pool.load': { actions: 'shareCaptureBudget' },
    'pool.hostIdle': { actions: 'closeIdleHost' },
    'xstate.done.actor.*': { actions: 'forgetSession' },
    // A session actor that threw is gone: forget it like a closed one rather than let the error climb.
    'xstate.error.actor.*': { actions: 'forgetSession' },
    'host.crashed': { actions: 'stopAcceptingOnHost' },
    'host.closed': { actions: 'forgetHost' },
    'pool.shutdown': { actions: 'closeEverything' },
  },
});

export type PoolActorRef = ActorRefFrom<typeof poolMachine>;
