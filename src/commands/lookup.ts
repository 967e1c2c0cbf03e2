import { CastpoolError, notFound } from '../errors.js';
import type { PoolActorRef, SessionEntry } from '../machines/pool.machine.js';
import { type SessionActorRef, sessionStateName } from '../machines/session.machine.js';
import type { ViewerHandle } from '../machines/types.js';

/** A session of this node by id; 404 otherwise. Own keys only: ids come from URLs ("constructor"). */
export function sessionEntry(pool: PoolActorRef, id: string): SessionEntry {
  const { sessions } = pool.getSnapshot().context;
  const entry = Object.hasOwn(sessions, id) ? sessions[id] : undefined;
  if (!entry) throw notFound(`session ${id}`);
  return entry;
}

/** A session with an open page (tag `live`); 409 naming its state otherwise. */
export function liveSession(pool: PoolActorRef, id: string): SessionEntry {
  const entry = sessionEntry(pool, id);
  const snapshot = entry.ref.getSnapshot();
  if (!snapshot.hasTag('live')) {
    const state = sessionStateName(snapshot.value);
    throw new CastpoolError('conflict', `session ${id} is ${state}, not live`, {
      retryable: state === 'launching',
    });
  }
  return entry;
}

export function viewerOf(ref: SessionActorRef, viewerId: string): ViewerHandle {
  const { viewers } = ref.getSnapshot().context;
  const viewer = Object.hasOwn(viewers, viewerId) ? viewers[viewerId] : undefined;
  if (!viewer) throw notFound(`viewer ${viewerId}`);
  return viewer;
}
