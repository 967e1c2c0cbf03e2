import { CastpoolError } from '../errors.js';
import { type ControlParty, releaseRefusal, takeRefusal } from '../machines/control-lease.js';
import type { SessionActorRef } from '../machines/session.machine.js';
import type { Castpool } from '../system.js';
import { sessionEntry, viewerOf } from './lookup.js';
import type { InputOf } from './operations.js';
import type { SessionView } from './results.js';
import { sessionView } from './view.js';

/**
 * The control lease over REST and NATS: the party named takes, releases or asks for the lease. The
 * refusal is worded with the session machine's own rule (control-lease.ts); the machine decides.
 */
export class ControlCommands {
  constructor(private readonly castpool: Castpool) {}

  control({ id, action, as, viewerId, force }: InputOf<'control'>): SessionView {
    const { ref } = sessionEntry(this.castpool.pool, id);
    const { context } = ref.getSnapshot();
    const party = partyOf(id, ref, as ?? (viewerId === undefined ? 'agent' : 'person'), viewerId, force);
    const now = context.now();
    if (action === 'release') {
      const refused = releaseRefusal(context.control, party, force);
      if (refused) throw new CastpoolError('conflict', refused, { retryable: false });
      ref.send({ type: 'control.release', party, force });
    } else {
      if (!party) throw new CastpoolError('bad_request', `${action} needs a party: viewerId, or as "agent"`);
      if (action === 'take') {
        const refused = takeRefusal(context.control, party, context.controlRules, now, force);
        if (refused) throw new CastpoolError('conflict', refused, { retryable: true });
        ref.send({ type: 'control.take', party, how: 'take', force });
      } else ref.send({ type: 'control.request', party });
    }
    return sessionView(this.castpool.config.nodeId, id, ref);
  }
}

/** The party a request acts for: a controlling viewer of the session, or its attached agent. */
function partyOf(
  id: string,
  ref: SessionActorRef,
  as: 'person' | 'agent',
  viewerId: string | undefined,
  force: boolean | undefined,
): ControlParty | null {
  if (as === 'agent') {
    if (viewerId !== undefined)
      throw new CastpoolError('bad_request', 'viewerId names a person, not the agent');
    if (ref.getSnapshot().context.automationClients === 0) {
      // An operator frees the lease without naming anyone.
      if (force) return null;
      throw new CastpoolError('conflict', `no CDP client is attached to session ${id}`, { retryable: true });
    }
    return { kind: 'agent' };
  }
  if (viewerId === undefined) throw new CastpoolError('bad_request', 'as "person" needs the viewerId acting');
  const viewer = viewerOf(ref, viewerId);
  if (viewer.scope === 'view')
    throw new CastpoolError('forbidden', `viewer ${viewerId} is view-only: a view-only viewer never drives`);
  return { kind: 'person', viewerId };
}
