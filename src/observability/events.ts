import type { InspectionEvent } from 'xstate';
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

export type CastpoolEvent = SessionTransition | PoolNews;
type Listener = (event: CastpoolEvent) => void;

const SESSION_ACTOR = /^session:(.+)$/;

/**
 * The node's event stream. Session transitions come from XState inspection of the pool's children,
 * so machines know nothing of it; NATS and Server-Sent Events both listen here.
 */
export class EventHub {
  private readonly listeners = new Set<Listener>();
  private readonly states = new Map<string, string>();

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

  /** The `inspect` hook of the root actor. */
  readonly inspect = (event: InspectionEvent): void => {
    if (event.type !== '@xstate.snapshot') return;
    const match = SESSION_ACTOR.exec((event.actorRef as { id?: string }).id ?? '');
    if (!match) return;
    const sessionId = match[1] as string;
    const snapshot = event.snapshot as unknown as {
      status: string;
      value: unknown;
      context?: { failure?: string; hibernation?: { reason: string } };
    };
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
