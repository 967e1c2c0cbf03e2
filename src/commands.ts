import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { waitFor } from 'xstate';
import type { ViewerScope } from './access/index.js';
import type { SessionPage } from './actors/page.js';
import { captureThumbnail } from './actors/thumbnail.js';
import { negotiateViewer, type ViewerPeer } from './actors/viewer.js';
import { CastpoolError, notFound } from './errors.js';
import { activeSessionCount, isDegraded, type SessionEntry } from './machines/pool.machine.js';
import {
  captureFps,
  type SavedPage,
  type SessionActorRef,
  sessionMachine,
  sessionStateName,
} from './machines/session.machine.js';
import type { CaptureStrategy, SessionParams } from './machines/types.js';
import { assertVideoOffer, chooseCodec, iceUfrag, parseTrickleFragment } from './media/sdp.js';
import { sanitize } from './sanitize.js';
import type { CreateSessionBody } from './schemas.js';
import type { Castpool } from './system.js';

export interface SessionView {
  id: string;
  /** The node that runs it. */
  node: string;
  state: string;
  url: string;
  viewport: { width: number; height: number };
  capture: CaptureStrategy;
  failure?: string;
  lastNavigation?: { url: string; error?: string };
  targetFps: number;
  currentFps: number;
  priority: number;
  shareFps: number | null;
  deliveredFps: number;
  droppedFrames: number;
  viewers: number;
  /** Encoders running for this session (one while watched, whatever the number of viewers). */
  encoders: number;
  /** Restarts after crashes since creation (the budget is per window, see config `supervision`). */
  restarts: number;
  hibernation?: { at: string; reason: string };
  codec: string | null;
  createdAt: string;
}

/** `GET /api/sessions/:id/snapshot`: the actor's persisted snapshot, sanitised, with what it is. */
export interface SessionSnapshot {
  version: 1;
  machine: string;
  xstate: string;
  sessionId: string;
  node: string;
  state: string;
  takenAt: string;
  snapshot: unknown;
}

export interface ViewerAnswer {
  viewerId: string;
  answer: string;
  etag: string;
}

const XSTATE_VERSION: string = createRequire(import.meta.url)('xstate/package.json').version;

/** A thumbnail is reused this long (the dashboard refreshes once a second). */
const THUMBNAIL_CACHE_MS = 800;

const LIVE_STATES = new Set(['idle', 'streaming', 'throttled']);

/** RFC 8839 candidate-attribute, as much as castpool needs to refuse garbage. */
const CANDIDATE_LINE = /^candidate:\S+ \d+ (udp|tcp|UDP|TCP) \d+ \S+ \d+ typ (host|srflx|prflx|relay)( .*)?$/;

/** The one command layer behind REST (and NATS later): validates intent, talks to the actors. */
export class Commands {
  private readonly thumbnails = new Map<string, { at: number; jpeg: Promise<Buffer> }>();
  constructor(private readonly castpool: Castpool) {}

  private get config() {
    return this.castpool.config;
  }

  /** Rejects URLs that are malformed or that the URL policy refuses (schemes, hosts, private addresses). */
  checkUrl(raw: string): Promise<string> {
    return this.castpool.access.checkUrl(raw);
  }

  /** Session parameters from a request body: defaults filled in, the URL checked. */
  async paramsFor(body: CreateSessionBody): Promise<SessionParams> {
    const defaults = this.config.session;
    return {
      url: await this.checkUrl(body.url),
      viewport: body.viewport ?? defaults.viewport,
      fps: body.fps ?? defaults.fps,
      quality: body.quality ?? defaults.quality,
      capture: body.capture ?? defaults.capture,
      priority: body.priority ?? defaults.priority,
    };
  }

  /** Why a session re-created from the registry may not open its URLs here (undefined: it may). */
  async adoptionRefusal(specUrl: string, savedUrl: string | undefined): Promise<string | undefined> {
    for (const url of savedUrl ? [specUrl, savedUrl] : [specUrl]) {
      try {
        await this.checkUrl(url);
      } catch (error) {
        return (error as Error).message;
      }
    }
    return undefined;
  }

  async create(body: CreateSessionBody): Promise<SessionView> {
    return this.start(randomUUID(), await this.paramsFor(body));
  }

  /** Starts a session under a given id (a new one, or one re-created from the fleet registry). */
  async start(sessionId: string, params: SessionParams, saved?: SavedPage): Promise<SessionView> {
    const { pool } = this.castpool;
    pool.send({ type: 'session.create', sessionId, params, saved });
    const context = pool.getSnapshot().context;
    const entry = context.sessions[sessionId];
    if (!entry) {
      if (context.shuttingDown)
        throw new CastpoolError('unavailable', 'castpool is shutting down', { retryable: true });
      if (isDegraded(context)) {
        const last = context.launchFailures.at(-1)?.reason ?? 'unknown';
        throw new CastpoolError(
          'unavailable',
          `degraded: ${context.launchFailures.length} browser launches failed recently (last: ${last}); running sessions continue`,
          { retryable: true, retryAfterSeconds: 30 },
        );
      }
      throw new CastpoolError(
        'capacity',
        `at capacity: ${context.maxSessions} sessions are live on this node`,
        {
          retryable: true,
          retryAfterSeconds: 5,
        },
      );
    }
    // Launch failures restart with backoff: wait until live, or failed once the budget is spent.
    const { restart } = this.config.supervision;
    const startDeadline = (this.config.launchTimeoutMs + restart.backoffMaxMs) * (restart.max + 1) + 5000;
    const snapshot = await waitFor(
      entry.ref,
      (s) =>
        LIVE_STATES.has(sessionStateName(s.value)) ||
        s.status !== 'active' ||
        sessionStateName(s.value) === 'failed',
      { timeout: startDeadline },
    ).catch(() => entry.ref.getSnapshot());
    const state = sessionStateName(snapshot.value);
    if (!LIVE_STATES.has(state)) {
      const reason = snapshot.context.failure ?? 'browser did not start in time';
      await this.delete(sessionId).catch(() => {});
      throw new CastpoolError('unavailable', `session could not start: ${reason}`, { retryable: true });
    }
    return this.view(sessionId, entry.ref);
  }

  get events() {
    return this.castpool.events;
  }

  /** This node's admission numbers. */
  capacity(): { maxSessions: number; active: number; available: number; cpu: number } {
    const context = this.castpool.pool.getSnapshot().context;
    const active = activeSessionCount(context);
    const open = !context.shuttingDown && !isDegraded(context);
    return {
      maxSessions: context.maxSessions,
      active,
      available: open ? Math.max(0, context.maxSessions - active) : 0,
      cpu: context.budget.cpu,
    };
  }

  /** What the fleet registry keeps of a local session. */
  detail(
    id: string,
  ): { state: string; params: SessionParams; saved?: SavedPage; reason?: string } | undefined {
    const { sessions } = this.castpool.pool.getSnapshot().context;
    const entry = Object.hasOwn(sessions, id) ? sessions[id] : undefined;
    if (!entry) return undefined;
    const { value, context } = entry.ref.getSnapshot();
    return {
      state: sessionStateName(value),
      params: { ...context.params, url: context.url },
      saved: context.saved,
      reason: context.failure ?? context.hibernation?.reason,
    };
  }

  has(id: string): boolean {
    return Object.hasOwn(this.castpool.pool.getSnapshot().context.sessions, id);
  }

  list(): SessionView[] {
    return Object.entries(this.castpool.pool.getSnapshot().context.sessions).map(([id, entry]) =>
      this.view(id, entry.ref),
    );
  }

  get(id: string): SessionView {
    return this.view(id, this.entry(id).ref);
  }

  /** Resolves once the session is gone and, if it was the last on its browser, that browser too. */
  async delete(id: string): Promise<void> {
    const { pool } = this.castpool;
    const entry = this.entry(id);
    pool.send({ type: 'session.close', sessionId: id });
    await waitFor(entry.ref, (s) => s.status === 'done', { timeout: 15_000 });
    await waitFor(
      pool,
      (s) => {
        const host = s.context.hosts[entry.hostId];
        return !host || host.sessionIds.length > 0;
      },
      { timeout: 15_000 },
    );
  }

  async navigate(id: string, rawUrl: string): Promise<SessionView> {
    const url = await this.checkUrl(rawUrl);
    const { ref } = this.liveEntry(id);
    const requestId = randomUUID();
    ref.send({ type: 'navigate', requestId, url });
    const snapshot = await waitFor(
      ref,
      (s) => s.context.lastNavigation?.requestId === requestId || !LIVE_STATES.has(sessionStateName(s.value)),
      { timeout: this.config.navigationTimeoutMs + 5000 },
    );
    const result = snapshot.context.lastNavigation;
    if (result?.requestId !== requestId)
      throw new CastpoolError(
        'conflict',
        `session ${id} stopped while navigating (${sessionStateName(snapshot.value)})`,
      );
    if (result.refused) throw new CastpoolError('url_refused', `url refused: ${result.refused}`);
    if (result.error)
      throw new CastpoolError('navigation_failed', `navigation to ${url} failed: ${result.error}`);
    return this.view(id, ref);
  }

  snapshot(id: string): SessionSnapshot {
    const { ref } = this.entry(id);
    return {
      version: 1,
      machine: sessionMachine.id,
      xstate: XSTATE_VERSION,
      sessionId: id,
      node: this.config.nodeId,
      state: sessionStateName(ref.getSnapshot().value),
      takenAt: new Date().toISOString(),
      snapshot: sanitize(ref.getPersistedSnapshot()),
    };
  }

  /** A JPEG thumbnail of the smallest configured width at least `width` (never wider than the viewport). */
  async thumbnail(id: string, width: number): Promise<Buffer> {
    const { ref } = this.liveEntry(id);
    const { page } = ref.getSnapshot().context;
    if (!page) throw new CastpoolError('conflict', `session ${id} has no page`);
    // A few fixed widths (the smallest at least as wide as asked): any width as a cache key let a
    // client make a resize per width, and 400 of them cost 15 s of CPU.
    const widths = this.config.limits.thumbnailWidths;
    const size = [...widths].sort((a, b) => a - b).find((w) => w >= width) ?? Math.max(...widths);
    // Dashboards ask every second, maybe several at once: one picture per session and width per period.
    const key = `${id}:${size}`;
    const now = Date.now();
    for (const [old, entry] of this.thumbnails)
      if (now - entry.at > THUMBNAIL_CACHE_MS) this.thumbnails.delete(old);
    const { thumbnails: counter } = this.castpool.metrics;
    let entry = this.thumbnails.get(key);
    if (entry) counter.inc({ source: 'cache' });
    else {
      entry = { at: now, jpeg: captureThumbnail(page, size, (source) => counter.inc({ source })) };
      this.thumbnails.set(key, entry);
      entry.jpeg.catch(() => this.thumbnails.delete(key));
    }
    try {
      return await entry.jpeg;
    } catch (error) {
      throw new CastpoolError('conflict', `no thumbnail now: ${(error as Error).message}`, {
        retryable: true,
      });
    }
  }

  /** Hibernates a session that nobody watches; resolves once its page is released. */
  async hibernate(id: string): Promise<SessionView> {
    const { ref } = this.entry(id);
    const state = sessionStateName(ref.getSnapshot().value);
    if (state === 'hibernated') return this.view(id, ref);
    if (state !== 'idle')
      throw new CastpoolError(
        'conflict',
        `session ${id} is ${state}; only an unwatched (idle) session hibernates`,
      );
    ref.send({ type: 'hibernate', reason: 'requested' });
    await waitFor(ref, (s) => sessionStateName(s.value) !== 'hibernating', { timeout: 15_000 });
    return this.view(id, ref);
  }

  /** Wakes a hibernated session; resolves when it is live again (a no-op for a live one). */
  async resume(id: string): Promise<SessionView> {
    const { ref } = this.entry(id);
    const state = sessionStateName(ref.getSnapshot().value);
    if (LIVE_STATES.has(state)) return this.view(id, ref);
    if (state !== 'hibernated' && state !== 'hibernating' && state !== 'resuming')
      throw new CastpoolError('conflict', `session ${id} is ${state}, not hibernated`);
    if (state === 'hibernating')
      await waitFor(ref, (s) => sessionStateName(s.value) !== 'hibernating', { timeout: 15_000 });
    ref.send({ type: 'resume' });
    const snapshot = await waitFor(
      ref,
      (s) => {
        const now = sessionStateName(s.value);
        return LIVE_STATES.has(now) || now === 'failed' || s.status === 'done';
      },
      { timeout: this.config.launchTimeoutMs + 15_000 },
    );
    if (!LIVE_STATES.has(sessionStateName(snapshot.value)))
      throw new CastpoolError(
        'unavailable',
        `session ${id} could not resume: ${snapshot.context.failure ?? 'closed'}`,
      );
    return this.view(id, ref);
  }

  async attachViewer(id: string, offer: string, scope: ViewerScope = 'control'): Promise<ViewerAnswer> {
    assertVideoOffer(offer);
    const { ref } = this.entry(id);
    const state = sessionStateName(ref.getSnapshot().value);
    const waking = state === 'hibernated' || state === 'hibernating' || state === 'resuming';
    if (!waking) this.liveEntry(id);
    const running = ref.getSnapshot().context;
    const release = this.reserveViewer(id, Object.keys(running.viewers).length);
    try {
      return await this.negotiateAndJoin(id, ref, offer, scope, waking);
    } finally {
      release();
    }
  }

  /** Viewers negotiating now, per session: counted against the caps before they join. */
  private readonly negotiating = new Map<string, number>();

  /**
   * Holds a viewer place for the time of a negotiation; 429 past the per-session or per-node cap
   * (a client with one token must not make hundreds of peer connections).
   */
  private reserveViewer(id: string, joined: number): () => void {
    const { viewersPerSession, viewersPerNode } = this.config.limits;
    const pendingHere = this.negotiating.get(id) ?? 0;
    if (joined + pendingHere >= viewersPerSession)
      throw new CastpoolError(
        'capacity',
        `session ${id} has ${joined + pendingHere} viewers (limit ${viewersPerSession})`,
        { retryable: true, retryAfterSeconds: 5 },
      );
    let total = 0;
    for (const entry of Object.values(this.castpool.pool.getSnapshot().context.sessions))
      total += Object.keys(entry.ref.getSnapshot().context.viewers).length;
    for (const pending of this.negotiating.values()) total += pending;
    if (total >= viewersPerNode)
      throw new CastpoolError('capacity', `this node has ${total} viewers (limit ${viewersPerNode})`, {
        retryable: true,
        retryAfterSeconds: 5,
      });
    this.negotiating.set(id, pendingHere + 1);
    return () => {
      const left = (this.negotiating.get(id) ?? 1) - 1;
      if (left > 0) this.negotiating.set(id, left);
      else this.negotiating.delete(id);
    };
  }

  private async negotiateAndJoin(
    id: string,
    ref: SessionActorRef,
    offer: string,
    scope: ViewerScope,
    waking: boolean,
  ): Promise<ViewerAnswer> {
    const running = ref.getSnapshot().context;
    // The first viewer picks the codec (H.264 when it can); the others must take what is encoding.
    const required = Object.keys(running.viewers).length > 0 ? running.codec : undefined;
    const codec = chooseCodec(offer, required);
    let peer: ViewerPeer;
    try {
      peer = await negotiateViewer(offer, codec, scope);
    } catch (error) {
      throw new CastpoolError('bad_request', `could not answer the SDP offer: ${(error as Error).message}`, {
        cause: error,
      });
    }
    try {
      // A viewer wakes a hibernated session. The join follows the resume without yielding to timers,
      // so nothing (an idle or memory-pressure hibernation) can slip in between.
      if (waking) await this.resume(id);
      this.liveEntry(id);
    } catch (error) {
      await peer.close();
      throw error;
    }
    ref.send({ type: 'viewer.join', viewer: peer });
    if (!ref.getSnapshot().context.viewers[peer.viewerId]) {
      await peer.close();
      throw new CastpoolError(
        'conflict',
        `session ${id} cannot take this viewer now (codec or state changed); retry`,
        {
          retryable: true,
        },
      );
    }
    return { viewerId: peer.viewerId, answer: peer.answer, etag: peer.etag };
  }

  detachViewer(id: string, viewerId: string): void {
    const { ref } = this.entry(id);
    this.viewer(ref, viewerId);
    ref.send({ type: 'viewer.left', viewerId });
  }

  /** WHEP PATCH: trickled candidates are added; an ICE restart is not supported (405). */
  patchViewer(id: string, viewerId: string, fragment: string, ifMatch: string | undefined): string {
    const peer = this.viewer(this.entry(id).ref, viewerId);
    if (ifMatch && ifMatch !== '*' && ifMatch !== peer.etag)
      throw new CastpoolError(
        'precondition_failed',
        'If-Match does not name this viewer session (stale ETag)',
      );
    const remoteUfrag = iceUfrag(peer.pc.remoteDescription?.sdp ?? '');
    const ufrag = iceUfrag(fragment);
    if (ufrag && remoteUfrag && ufrag !== remoteUfrag)
      throw new CastpoolError('method_not_allowed', 'ICE restart is not supported; start a new WHEP session');
    const candidates = parseTrickleFragment(fragment);
    const malformed = candidates.find(({ candidate }) => !CANDIDATE_LINE.test(candidate));
    if (malformed) throw new CastpoolError('bad_request', `malformed ICE candidate "${malformed.candidate}"`);
    // Not awaited: werift resolves mDNS (.local) candidates with a ~10 s timeout, and the connection
    // does not wait for them (the viewer's checks arrive as peer-reflexive candidates).
    for (const candidate of candidates)
      peer.pc.addIceCandidate(candidate).catch((error: Error) => {
        this.castpool.log.debug({ err: error, sessionId: id, viewerId }, 'ICE candidate not added');
      });
    return peer.etag;
  }

  private viewer(ref: SessionActorRef, viewerId: string): ViewerPeer {
    // Own keys only: ids come from URLs, and "constructor" or "valueOf" are not viewers.
    const { viewers } = ref.getSnapshot().context;
    const viewer = Object.hasOwn(viewers, viewerId) ? viewers[viewerId] : undefined;
    if (!viewer) throw notFound(`viewer ${viewerId}`);
    return viewer as ViewerPeer;
  }

  private entry(id: string): SessionEntry {
    const { sessions } = this.castpool.pool.getSnapshot().context;
    const entry = Object.hasOwn(sessions, id) ? sessions[id] : undefined;
    if (!entry) throw notFound(`session ${id}`);
    return entry;
  }

  private liveEntry(id: string): SessionEntry {
    const entry = this.entry(id);
    const state = sessionStateName(entry.ref.getSnapshot().value);
    if (!LIVE_STATES.has(state))
      throw new CastpoolError('conflict', `session ${id} is ${state}, not live`, {
        retryable: state === 'launching',
      });
    return entry;
  }

  private view(id: string, ref: SessionActorRef): SessionView {
    const { value, context } = ref.getSnapshot();
    const state = sessionStateName(value);
    const watched = state === 'streaming' || state === 'throttled';
    return {
      id,
      node: this.config.nodeId,
      state,
      url: context.url,
      viewport: context.params.viewport,
      capture: context.params.capture,
      ...(context.failure ? { failure: context.failure } : {}),
      ...(context.lastNavigation
        ? { lastNavigation: { url: context.lastNavigation.url, error: context.lastNavigation.error } }
        : {}),
      targetFps: context.params.fps,
      currentFps: watched ? captureFps(context) : 0,
      priority: context.params.priority,
      shareFps: watched ? context.shareFps : null,
      deliveredFps: context.stats.deliveredFps,
      droppedFrames: context.stats.droppedTotal,
      viewers: Object.keys(context.viewers).length,
      encoders: (context.page as SessionPage | undefined)?.encoders ?? 0,
      restarts: context.restartsTotal,
      ...(context.hibernation
        ? {
            hibernation: {
              at: new Date(context.hibernation.at).toISOString(),
              reason: context.hibernation.reason,
            },
          }
        : {}),
      codec: watched ? (context.codec ?? null) : null,
      createdAt: new Date(context.createdAt).toISOString(),
    };
  }
}
