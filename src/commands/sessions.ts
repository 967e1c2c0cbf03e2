/**
 * The handlers of the session and page operations of the operations table (create, navigate,
 * dialogs, tabs, files, hibernate…; viewers, thumbnails and downloads have files of their own), on
 * this node. Around 300 lines on purpose: each is a few lines of "send the event, wait for the
 * outcome", and together they are where a newcomer reads what an operation does.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { waitFor } from 'xstate';
import { CastpoolError } from '../errors.js';
import { admissionRefusal } from '../machines/pool.machine.js';
import {
  type SavedPage,
  type SessionActorRef,
  sessionMachine,
  sessionStateName,
} from '../machines/session.machine.js';
import type { SessionParams } from '../machines/types.js';
import { sanitize } from '../observability/sanitize.js';
import type { CreateSessionBody } from '../schemas.js';
import { settledWithin } from '../settled-within.js';
import type { Castpool } from '../system.js';
import { admissionError } from './admission.js';
import { askSession } from './ask-session.js';
import type { ContextCommands } from './contexts.js';
import { liveSession, sessionEntry } from './lookup.js';
import type { InputOf } from './operations.js';
import type { Deleted, SessionList, SessionSnapshot, SessionView } from './results.js';
import { sessionView } from './view.js';

const XSTATE_VERSION: string = createRequire(import.meta.url)('xstate/package.json').version;

/** How long a command waits for a session to get somewhere (Chromium's own deadlines, plus slack). */
const CLOSE_TIMEOUT_MS = 15_000;
const HIBERNATE_TIMEOUT_MS = 15_000;
const DIALOG_ANSWER_TIMEOUT_MS = 5000;
const FILES_TIMEOUT_MS = 15_000;

/** The session operations of this node: each sends its event to the pool or session and waits for the outcome. */
export class SessionCommands {
  constructor(
    private readonly castpool: Castpool,
    /** Where a session asked to start from a saved context finds it. */
    private readonly contexts: ContextCommands,
  ) {}

  private get config() {
    return this.castpool.config;
  }

  private view(id: string, ref: SessionActorRef): SessionView {
    return sessionView(this.config.nodeId, id, ref);
  }

  /** Session parameters from a request body: defaults filled in, the URL checked (400 otherwise). */
  async paramsFor(body: CreateSessionBody): Promise<SessionParams> {
    const defaults = this.config.session;
    const permissions = body.permissions ?? [];
    if (body.geolocation && !permissions.includes('geolocation'))
      throw new CastpoolError('bad_request', 'geolocation needs "geolocation" in permissions');
    const capture = body.capture ?? defaults.capture;
    if (body.audio && capture !== 'tab')
      throw new CastpoolError('bad_request', 'audio needs capture "tab": a screencast carries no sound');
    return {
      url: await this.castpool.access.checkUrl(body.url),
      viewport: body.viewport ?? defaults.viewport,
      fps: body.fps ?? defaults.fps,
      quality: body.quality ?? defaults.quality,
      capture,
      audio: body.audio ?? false,
      priority: body.priority ?? defaults.priority,
      dialogs: body.dialogs ?? defaults.dialogs,
      dialogTimeoutMs: body.dialogTimeoutMs ?? defaults.dialogTimeoutMs,
      permissions,
      ignoreHttpsErrors: body.ignoreHttpsErrors ?? false,
      popups: body.popups ?? defaults.popups,
      unwatched: body.unwatched ?? defaults.unwatched,
      ...(body.geolocation ? { geolocation: body.geolocation } : {}),
      ...(body.proxy
        ? {
            proxy: {
              server: await this.castpool.access.checkProxy(body.proxy.server),
              bypass: body.proxy.bypass ?? [],
              ...(body.proxy.username ? { username: body.proxy.username } : {}),
            },
          }
        : {}),
    };
  }

  async create(body: InputOf<'create'>): Promise<SessionView> {
    const params = await this.paramsFor(body);
    const sessionId = randomUUID();
    // Kept beside the session, not in it: its state is shown, stored and inspected.
    this.castpool.siteCredentials.set(
      sessionId,
      (body.httpCredentials ?? []).map((c) => ({ ...c, origin: new URL(c.origin).origin })),
    );
    if (body.proxy?.username)
      this.castpool.siteCredentials.setProxy(sessionId, {
        username: body.proxy.username,
        password: body.proxy.password ?? '',
      });
    try {
      // A saved context: the page opens with its cookies and storage, as a hibernated one resumes.
      const saved = body.context ? await this.contexts.startingState(body.context, params.url) : undefined;
      return await this.start(sessionId, params, saved);
    } catch (error) {
      this.castpool.siteCredentials.forget(sessionId);
      throw error;
    }
  }

  /** Starts a session under a given id (a new one, or one re-created from the fleet registry). */
  async start(sessionId: string, params: SessionParams, saved?: SavedPage): Promise<SessionView> {
    const { pool } = this.castpool;
    pool.send({ type: 'session.create', sessionId, params, saved });
    const context = pool.getSnapshot().context;
    const entry = context.sessions[sessionId];
    if (!entry) {
      const refusal = admissionRefusal(context);
      throw refusal
        ? admissionError(refusal)
        : new CastpoolError('conflict', `session ${sessionId} exists`, { retryable: false });
    }
    // Launch failures restart with backoff: wait until live, or failed once the budget is spent.
    const { restart } = this.config.supervision;
    const startDeadline = (this.config.launchTimeoutMs + restart.backoffMaxMs) * (restart.max + 1) + 5000;
    const snapshot = await waitFor(
      entry.ref,
      (s) => s.hasTag('live') || s.hasTag('failed') || s.status !== 'active',
      { timeout: startDeadline },
    ).catch(() => entry.ref.getSnapshot());
    if (!snapshot.hasTag('live')) {
      const reason = snapshot.context.failure ?? 'browser did not start in time';
      await this.delete({ id: sessionId }).catch(() => {});
      throw new CastpoolError('unavailable', `session could not start: ${reason}`, { retryable: true });
    }
    return this.view(sessionId, entry.ref);
  }

  list(): SessionList {
    const { sessions } = this.castpool.pool.getSnapshot().context;
    return { sessions: Object.entries(sessions).map(([id, entry]) => this.view(id, entry.ref)) };
  }

  get({ id }: InputOf<'get'>): SessionView {
    return this.view(id, sessionEntry(this.castpool.pool, id).ref);
  }

  /** Resolves once the session is gone and, if it was the last on its browser, that browser too (or lingers). */
  async delete({ id }: InputOf<'delete'>): Promise<Deleted> {
    const { pool } = this.castpool;
    const entry = sessionEntry(pool, id);
    pool.send({ type: 'session.close', sessionId: id });
    await waitFor(entry.ref, (s) => s.status === 'done', { timeout: CLOSE_TIMEOUT_MS });
    await waitFor(
      pool,
      (s) => {
        const host = s.context.hosts[entry.hostId];
        // Its browser closed, or lingers for the next session, or others still run there.
        return !host || host.sessionIds.length > 0 || host.idleSince !== undefined;
      },
      { timeout: CLOSE_TIMEOUT_MS },
    );
    // Its own processes (a screencast's encoder) end with its actors; the answer waits for them.
    const own = this.castpool.processes.list().filter((p) => p.owner === id);
    await settledWithin(Promise.all(own.map((p) => p.exited)), CLOSE_TIMEOUT_MS);
    return { deleted: id };
  }

  async navigate({ id, url: raw }: InputOf<'navigate'>): Promise<SessionView> {
    const url = await this.castpool.access.checkUrl(raw);
    const { pool } = this.castpool;
    // A failed session is navigated out of its failure: it starts again there, with a fresh budget.
    const failed = sessionEntry(pool, id).ref.getSnapshot().hasTag('failed');
    const { ref } = failed ? sessionEntry(pool, id) : liveSession(pool, id);
    const requestId = randomUUID();
    ref.send({ type: 'navigate', requestId, url });
    const snapshot = await waitFor(
      ref,
      (s) =>
        s.context.lastNavigation?.requestId === requestId ||
        s.status !== 'active' ||
        (failed ? s.hasTag('failed') : !s.hasTag('live')),
      { timeout: this.config.navigationTimeoutMs + (failed ? this.reviveTimeoutMs : 5000) },
    );
    const result = snapshot.context.lastNavigation;
    if (result?.requestId !== requestId)
      throw new CastpoolError(
        'conflict',
        `session ${id} stopped while navigating (${sessionStateName(snapshot.value)}${snapshot.context.failure ? `: ${snapshot.context.failure}` : ''})`,
      );
    if (result.refused) throw new CastpoolError('url_refused', `url refused: ${result.refused}`);
    if (result.error)
      throw new CastpoolError('navigation_failed', `navigation to ${url} failed: ${result.error}`);
    return this.view(id, ref);
  }

  /** How long a failed or hibernated session may take to be live again (a launch, with restarts). */
  private get reviveTimeoutMs(): number {
    return this.config.launchTimeoutMs + 15_000;
  }

  /** Answers the dialog the page shows; resolves once the page took the answer. */
  async answerDialog({ id, accept, promptText }: InputOf<'dialog'>): Promise<SessionView> {
    const { ref } = liveSession(this.castpool.pool, id);
    const open = ref.getSnapshot().context.dialog;
    if (!open) throw new CastpoolError('conflict', `session ${id} shows no dialog`, { retryable: false });
    await askSession(
      ref,
      { type: 'dialog.answer', accept, ...(promptText !== undefined ? { promptText } : {}) },
      {
        answer: (event) =>
          event.type === 'dialog.closed' && event.dialog.id === open.id ? { value: undefined } : undefined,
        closed: () => new CastpoolError('conflict', `session ${id} closed before the dialog was answered`),
        late: () => new CastpoolError('conflict', `session ${id}'s page did not take the answer in time`),
        timeoutMs: DIALOG_ANSWER_TIMEOUT_MS,
      },
    );
    return this.view(id, ref);
  }

  /** Makes a tab the active one: the live view and viewers' input follow it at once. */
  activateTab({ id, tabId }: InputOf<'tab-activate'>): SessionView {
    const { ref } = liveSession(this.castpool.pool, id);
    this.tabOf(id, ref, tabId);
    ref.send({ type: 'tab.activate', tabId });
    return this.view(id, ref);
  }

  /** Closes a tab (not the last: a session is at least one tab); closing the active one activates its neighbour. */
  closeTab({ id, tabId }: InputOf<'tab-close'>): SessionView {
    const { ref } = liveSession(this.castpool.pool, id);
    this.tabOf(id, ref, tabId);
    if (ref.getSnapshot().context.tabs.length === 1)
      throw new CastpoolError(
        'conflict',
        `${tabId} is the session's last tab; delete the session to close it`,
        {
          retryable: false,
        },
      );
    ref.send({ type: 'tab.close', tabId });
    return this.view(id, ref);
  }

  private tabOf(id: string, ref: SessionActorRef, tabId: string): void {
    if (!ref.getSnapshot().context.tabs.some((tab) => tab.id === tabId))
      throw new CastpoolError('not_found', `session ${id} has no tab ${tabId}`);
  }

  /** Gives files to the page's open file chooser; resolves once the page has them. */
  async giveFiles({ id, files }: InputOf<'file-chooser'>): Promise<SessionView> {
    const { ref } = liveSession(this.castpool.pool, id);
    const open = ref.getSnapshot().context.fileChooser;
    if (!open)
      throw new CastpoolError('conflict', `session ${id} shows no file chooser`, { retryable: false });
    if (open.mode === 'selectSingle' && files.length > 1)
      throw new CastpoolError('bad_request', 'the file chooser takes one file');
    const decoded = files.map((file) => ({ name: file.name, data: Buffer.from(file.data, 'base64') }));
    await askSession(
      ref,
      { type: 'fileChooser.answer', files: decoded },
      {
        answer: (event) => {
          if (event.type !== 'fileChooser.closed' || event.id !== open.id) return undefined;
          return event.error
            ? { error: new CastpoolError('conflict', `the page did not take the files: ${event.error}`) }
            : { value: undefined };
        },
        closed: () => new CastpoolError('conflict', `session ${id} closed before the files were given`),
        late: () => new CastpoolError('conflict', `session ${id}'s page did not take the files in time`),
        timeoutMs: FILES_TIMEOUT_MS,
      },
    );
    return this.view(id, ref);
  }

  snapshot({ id }: InputOf<'snapshot'>): SessionSnapshot {
    const { ref } = sessionEntry(this.castpool.pool, id);
    return {
      version: 1,
      machine: sessionMachine.id,
      xstate: XSTATE_VERSION,
      sessionId: id,
      node: this.config.nodeId,
      state: sessionStateName(ref.getSnapshot().value),
      takenAt: new Date().toISOString(),
      snapshot: persistedView(ref),
    };
  }

  /** Hibernates a session that nobody watches; resolves once its page is released. */
  async hibernate({ id }: InputOf<'hibernate'>): Promise<SessionView> {
    const { ref } = sessionEntry(this.castpool.pool, id);
    const snapshot = ref.getSnapshot();
    if (snapshot.matches('hibernated')) return this.view(id, ref);
    if (!snapshot.hasTag('live') || snapshot.hasTag('watched'))
      throw new CastpoolError(
        'conflict',
        `session ${id} is ${sessionStateName(snapshot.value)}; only an unwatched (idle) session hibernates`,
      );
    ref.send({ type: 'hibernate', reason: 'requested' });
    await waitFor(ref, (s) => !s.matches('hibernating'), { timeout: HIBERNATE_TIMEOUT_MS });
    return this.view(id, ref);
  }

  /** Wakes a hibernated session, or starts a failed one again; resolves when it is live (a no-op for a live one). */
  async resume({ id }: InputOf<'resume'>): Promise<SessionView> {
    const { ref } = sessionEntry(this.castpool.pool, id);
    const snapshot = ref.getSnapshot();
    if (snapshot.hasTag('live')) return this.view(id, ref);
    if (!snapshot.hasTag('asleep') && !snapshot.hasTag('failed'))
      throw new CastpoolError(
        'conflict',
        `session ${id} is ${sessionStateName(snapshot.value)}, not hibernated or failed`,
      );
    if (snapshot.matches('hibernating'))
      await waitFor(ref, (s) => !s.matches('hibernating'), { timeout: HIBERNATE_TIMEOUT_MS });
    ref.send({ type: 'resume' });
    const woken = await waitFor(ref, (s) => s.hasTag('live') || s.hasTag('failed') || s.status === 'done', {
      timeout: this.reviveTimeoutMs,
    });
    if (!woken.hasTag('live'))
      throw new CastpoolError(
        'unavailable',
        `session ${id} could not resume: ${woken.context.failure ?? 'closed'}`,
      );
    return this.view(id, ref);
  }
}

/**
 * What XState would persist of a session (status, state value, context, children, tags), JSON-safe.
 * Not `getPersistedSnapshot()`: it walks every object of the context looking for actors, pages and
 * their Chromium connections included, and overflowed the stack on a watched session's.
 */
function persistedView(ref: SessionActorRef): unknown {
  const snapshot = ref.getSnapshot();
  return sanitize({
    status: snapshot.status,
    value: snapshot.value,
    context: snapshot.context,
    children: Object.fromEntries(Object.keys(snapshot.children).map((id) => [id, { id }])),
    tags: [...snapshot.tags],
  });
}
