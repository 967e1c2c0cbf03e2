import type { InspectionEvent } from 'xstate';
import type { ControlHow, ControlLease, ControlParty } from '../machines/control-lease.js';
import { sessionStateName } from '../machines/session.machine.js';

/** A session changed state (every transition of every session, as the user-facing state names). */
export interface SessionTransition {
  kind: 'session';
  node: string;
  sessionId: string;
  from: string | null;
  to: string;
  reason?: string;
  time: string;
}

/** Node-level news: up, down, capacity changes. */
export interface PoolNews {
  kind: 'pool';
  node: string;
  type: 'node.up' | 'node.down' | 'capacity' | 'session.recreated';
  time: string;
  [detail: string]: unknown;
}

/**
 * What a session's page asks for or does: a dialog waiting for an answer (or answered), a download
 * started or ended. Events name kinds and states only; messages, names and URLs are the page's content,
 * read with the session (`GET /api/sessions/:id`, `…/downloads`).
 */
export type PageNews =
  | {
      kind: 'page';
      node: string;
      sessionId: string;
      type: 'dialog.opened' | 'dialog.closed';
      dialogType: 'alert' | 'confirm' | 'prompt' | 'beforeunload';
      time: string;
    }
  | {
      kind: 'page';
      node: string;
      sessionId: string;
      type: 'download.started' | 'download.finished';
      downloadId: string;
      state: 'in-progress' | 'completed' | 'canceled';
      time: string;
    }
  | {
      kind: 'page';
      node: string;
      sessionId: string;
      /** A recording began writing, or its file is final (`completed`) or it failed. */
      type: 'recording.started' | 'recording.finished';
      recordingId: string;
      state: RecordingState;
      time: string;
    }
  | {
      kind: 'page';
      node: string;
      sessionId: string;
      type: 'tab.opened' | 'tab.activated' | 'tab.closed';
      tabId: string;
      time: string;
    };
type DialogType = 'alert' | 'confirm' | 'prompt' | 'beforeunload';
type RecordingState = 'starting' | 'recording' | 'finalizing' | 'completed' | 'failed';

/**
 * The control lease changed hands (`taken`: `holder` drives now, `previous` did; `released`: nobody
 * drives), or a party asked the holder for it (`requested`). On NATS: `<prefix>.events.<id>.control`.
 */
export interface ControlNews {
  kind: 'control';
  node: string;
  sessionId: string;
  change: 'taken' | 'released' | 'requested';
  holder: ControlParty | null;
  previous: ControlParty | null;
  how: ControlHow | null;
  requestedBy: ControlParty | null;
  since: string;
  time: string;
}

export type CastpoolEvent = SessionTransition | PoolNews | PageNews | ControlNews;
type Listener = (event: CastpoolEvent) => void;

const SESSION_ACTOR = /^session:(.+)$/;

/**
 * The node's event stream. Session transitions come from XState inspection of the pool's children,
 * so machines know nothing of it; NATS and Server-Sent Events both listen here.
 */
export class EventHub {
  private readonly listeners = new Set<Listener>();
  private readonly states = new Map<string, string>();
  /** The dialog each session showed at its last snapshot. */
  private readonly dialogs = new Map<string, { id: number; type: DialogType }>();
  /** The tabs each session had at its last snapshot, and which was active. */
  private readonly tabs = new Map<string, { ids: Set<string>; active: string | undefined }>();
  /** The control lease each session had at its last snapshot. */
  private readonly leases = new Map<string, ControlLease>();
  /** The downloads each session had at its last snapshot (id → state). */
  private readonly downloads = new Map<string, Map<string, string>>();
  /** The recordings each session had at its last snapshot (id → whether it had finished). */
  private readonly recordings = new Map<string, Map<string, boolean>>();

  constructor(readonly node: string) {}

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: CastpoolEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // one faulty listener must not stop the others, nor the actor that reported
      }
    }
  }

  pool(type: PoolNews['type'], detail: Record<string, unknown> = {}): void {
    this.emit({ kind: 'pool', node: this.node, type, time: new Date().toISOString(), ...detail });
  }

  private downloadNews(
    sessionId: string,
    now: { id: string; state: 'in-progress' | 'completed' | 'canceled' }[] | undefined,
  ): void {
    if (!now) {
      this.downloads.delete(sessionId);
      return;
    }
    let known = this.downloads.get(sessionId);
    if (!known) {
      if (now.length === 0) return;
      known = new Map();
      this.downloads.set(sessionId, known);
    }
    for (const { id, state } of now) {
      const before = known.get(id);
      if (before === state) continue;
      known.set(id, state);
      const time = new Date().toISOString();
      const base = { kind: 'page' as const, node: this.node, sessionId, downloadId: id, state, time };
      if (before === undefined) this.emit({ ...base, type: 'download.started' });
      if (state !== 'in-progress') this.emit({ ...base, type: 'download.finished' });
    }
  }

  private recordingNews(sessionId: string, now: { id: string; state: RecordingState }[] | undefined): void {
    if (!now) {
      this.recordings.delete(sessionId);
      return;
    }
    let known = this.recordings.get(sessionId);
    if (!known) {
      if (now.length === 0) return;
      known = new Map();
      this.recordings.set(sessionId, known);
    }
    for (const { id, state } of now) {
      const finished = state === 'completed' || state === 'failed';
      const before = known.get(id);
      if (before === finished) continue;
      known.set(id, finished);
      const time = new Date().toISOString();
      const base = { kind: 'page' as const, node: this.node, sessionId, recordingId: id, state, time };
      if (before === undefined) this.emit({ ...base, type: 'recording.started' });
      if (finished) this.emit({ ...base, type: 'recording.finished' });
    }
    // Deleted or expired ones are forgotten (a later rec-n is a new recording).
    const ids = new Set(now.map((r) => r.id));
    for (const id of known.keys()) if (!ids.has(id)) known.delete(id);
  }

  private tabNews(sessionId: string, now: { id: string; page: unknown }[] | undefined, page: unknown): void {
    if (!now) {
      this.tabs.delete(sessionId);
      return;
    }
    const before = this.tabs.get(sessionId) ?? { ids: new Set<string>(), active: undefined };
    const ids = new Set(now.map((tab) => tab.id));
    const active = now.find((tab) => tab.page === page)?.id;
    // A session's first tab (and a restart's new one) is the session itself, not news.
    const quiet = before.ids.size === 0 || ![...before.ids].some((id) => ids.has(id));
    this.tabs.set(sessionId, { ids, active });
    if (quiet) return;
    const news = (type: 'tab.opened' | 'tab.activated' | 'tab.closed', tabId: string) =>
      this.emit({ kind: 'page', node: this.node, sessionId, type, tabId, time: new Date().toISOString() });
    for (const id of before.ids) if (!ids.has(id)) news('tab.closed', id);
    for (const id of ids) if (!before.ids.has(id)) news('tab.opened', id);
    if (active && active !== before.active) news('tab.activated', active);
  }

  private controlNews(sessionId: string, now: ControlLease | undefined): void {
    const before = this.leases.get(sessionId);
    if (!now) {
      this.leases.delete(sessionId);
      return;
    }
    this.leases.set(sessionId, now);
    if (!before) return;
    const holderChanged =
      before.holder?.kind !== now.holder?.kind ||
      (before.holder?.kind === 'person' &&
        now.holder?.kind === 'person' &&
        before.holder.viewerId !== now.holder.viewerId) ||
      before.since !== now.since;
    const requested = now.requested !== null && now.requested.at !== before.requested?.at;
    if (!holderChanged && !requested) return;
    this.emit({
      kind: 'control',
      node: this.node,
      sessionId,
      change: holderChanged ? (now.holder ? 'taken' : 'released') : 'requested',
      holder: now.holder,
      previous: holderChanged ? before.holder : now.holder,
      how: now.how,
      requestedBy: now.requested?.by ?? null,
      since: new Date(now.since).toISOString(),
      time: new Date().toISOString(),
    });
  }

  private dialogNews(sessionId: string, now: { id: number; type: DialogType } | undefined): void {
    const before = this.dialogs.get(sessionId);
    if (before?.id === now?.id) return;
    const news = (type: 'dialog.opened' | 'dialog.closed', dialogType: DialogType) =>
      this.emit({
        kind: 'page',
        node: this.node,
        sessionId,
        type,
        dialogType,
        time: new Date().toISOString(),
      });
    if (before) news('dialog.closed', before.type);
    if (now) {
      this.dialogs.set(sessionId, { id: now.id, type: now.type });
      news('dialog.opened', now.type);
    } else this.dialogs.delete(sessionId);
  }

  /** The `inspect` hook of the root actor. */
  readonly inspect = (event: InspectionEvent): void => {
    if (event.type !== '@xstate.snapshot') return;
    const match = SESSION_ACTOR.exec((event.actorRef as { id?: string }).id ?? '');
    if (!match) return;
    const sessionId = match[1] as string;
    const snapshot = event.snapshot as unknown as {
      status: string;
      value: unknown;
      context?: {
        failure?: string;
        hibernation?: { reason: string };
        dialog?: { id: number; type: DialogType };
        downloads?: { id: string; state: 'in-progress' | 'completed' | 'canceled' }[];
        recordings?: { id: string; state: RecordingState }[];
        tabs?: { id: string; page: unknown }[];
        page?: unknown;
        control?: ControlLease;
      };
    };
    this.controlNews(sessionId, snapshot.status === 'done' ? undefined : snapshot.context?.control);
    this.tabNews(
      sessionId,
      snapshot.status === 'done' ? undefined : snapshot.context?.tabs,
      snapshot.context?.page,
    );
    this.dialogNews(sessionId, snapshot.status === 'done' ? undefined : snapshot.context?.dialog);
    this.downloadNews(sessionId, snapshot.status === 'done' ? undefined : snapshot.context?.downloads);
    this.recordingNews(sessionId, snapshot.status === 'done' ? undefined : snapshot.context?.recordings);
    const to = snapshot.status === 'done' ? 'closed' : sessionStateName(snapshot.value);
    const from = this.states.get(sessionId) ?? null;
    // A stopped actor's last snapshot repeats `closed` after it was already reported.
    if (from === to || (to === 'closed' && from === null)) return;
    if (to === 'closed') this.states.delete(sessionId);
    else this.states.set(sessionId, to);
    const reason =
      to === 'failed' || to === 'restarting'
        ? snapshot.context?.failure
        : to === 'hibernating' || to === 'hibernated'
          ? snapshot.context?.hibernation?.reason
          : undefined;
    this.emit({
      kind: 'session',
      node: this.node,
      sessionId,
      from,
      to,
      ...(reason ? { reason } : {}),
      time: new Date().toISOString(),
    });
  };
}
