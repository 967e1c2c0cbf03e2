import type { Config } from '../config.js';
import { CastpoolError } from '../errors.js';
import type { PoolActorRef } from '../machines/pool.machine.js';

/**
 * Viewer places held while a WHEP offer negotiates, counted with the joined viewers against the
 * per-session and per-node caps (429 past them): one token must not make hundreds of peer connections.
 */
export class ViewerReservations {
  /** Viewers negotiating now, per session. */
  private readonly negotiating = new Map<string, number>();
  /** Sessions whose first viewer is negotiating now (their encode starts when it is in). */
  private readonly firstWatches = new Map<string, number>();

  constructor(
    private readonly limits: Pick<Config['limits'], 'viewersPerSession' | 'viewersPerNode'>,
    private readonly pool: PoolActorRef,
  ) {}

  /** Sessions other than `id` whose first viewer is negotiating now: watched in a moment. */
  startingWatches(id: string): number {
    return this.firstWatches.size - (this.firstWatches.has(id) ? 1 : 0);
  }

  /**
   * Holds a place for session `id` (`firstWatch`: its first viewer, which starts an encode); call the
   * returned function when the negotiation ends.
   */
  reserve(id: string, firstWatch = false): () => void {
    const { viewersPerSession, viewersPerNode } = this.limits;
    const sessions = this.pool.getSnapshot().context.sessions;
    const joined = Object.hasOwn(sessions, id)
      ? Object.keys(sessions[id]?.ref.getSnapshot().context.viewers ?? {}).length
      : 0;
    const pendingHere = this.negotiating.get(id) ?? 0;
    if (joined + pendingHere >= viewersPerSession)
      throw new CastpoolError(
        'capacity',
        `session ${id} has ${joined + pendingHere} viewers (limit ${viewersPerSession})`,
        { retryable: true, retryAfterSeconds: 5 },
      );
    let total = 0;
    for (const entry of Object.values(sessions))
      total += Object.keys(entry.ref.getSnapshot().context.viewers).length;
    for (const pending of this.negotiating.values()) total += pending;
    if (total >= viewersPerNode)
      throw new CastpoolError('capacity', `this node has ${total} viewers (limit ${viewersPerNode})`, {
        retryable: true,
        retryAfterSeconds: 5,
      });
    this.negotiating.set(id, pendingHere + 1);
    if (firstWatch) this.firstWatches.set(id, (this.firstWatches.get(id) ?? 0) + 1);
    return () => {
      countDown(this.negotiating, id);
      if (firstWatch) countDown(this.firstWatches, id);
    };
  }
}

function countDown(counts: Map<string, number>, id: string): void {
  const left = (counts.get(id) ?? 1) - 1;
  if (left > 0) counts.set(id, left);
  else counts.delete(id);
}
