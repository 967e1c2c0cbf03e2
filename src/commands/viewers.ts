import type { ViewerScope } from '../access/index.js';
import { negotiateViewer, type ViewerPeer } from '../actors/viewer.js';
import { CastpoolError } from '../errors.js';
import type { SessionActorRef } from '../machines/session.machine.js';
import { assertVideoOffer, chooseCodec, iceUfrag, parseTrickleFragment } from '../media/sdp.js';
import type { Castpool } from '../system.js';
import { liveSession, sessionEntry, viewerOf } from './lookup.js';
import type { InputOf } from './operations.js';
import type { Deleted, ViewerAnswer, ViewerPatched } from './results.js';
import type { SessionCommands } from './sessions.js';
import { ViewerReservations } from './viewer-reservations.js';

/** RFC 8839 candidate-attribute, as much as castpool needs to refuse garbage. */
const CANDIDATE_LINE = /^candidate:\S+ \d+ (udp|tcp|UDP|TCP) \d+ \S+ \d+ typ (host|srflx|prflx|relay)( .*)?$/;

/** WHEP viewers of this node's sessions: offer (join), trickle (patch), leave (delete). */
export class ViewerCommands {
  private readonly reservations: ViewerReservations;

  constructor(
    private readonly castpool: Castpool,
    private readonly sessions: SessionCommands,
  ) {
    this.reservations = new ViewerReservations(castpool.config.limits, castpool.pool);
  }

  /** A viewer joins; a hibernated session wakes for it. 429 past the viewer caps. */
  async offer({ id, offer, scope }: InputOf<'whep.offer'>): Promise<ViewerAnswer> {
    assertVideoOffer(offer);
    const { pool } = this.castpool;
    const { ref } = sessionEntry(pool, id);
    const waking = ref.getSnapshot().hasTag('asleep');
    if (!waking) liveSession(pool, id);
    const release = this.reservations.reserve(id);
    try {
      return await this.negotiateAndJoin(id, ref, offer, scope, waking);
    } finally {
      release();
    }
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
      if (waking) await this.sessions.resume({ id });
      liveSession(this.castpool.pool, id);
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
        { retryable: true },
      );
    }
    return { viewerId: peer.viewerId, answer: peer.answer, etag: peer.etag };
  }

  /** WHEP PATCH: trickled candidates are added; an ICE restart is not supported (405). */
  patch({ id, viewerId, fragment, ifMatch }: InputOf<'whep.patch'>): ViewerPatched {
    const peer = viewerOf(sessionEntry(this.castpool.pool, id).ref, viewerId) as ViewerPeer;
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
    return { etag: peer.etag };
  }

  /** WHEP DELETE: the viewer leaves (its peer connection closes with its actor). */
  leave({ id, viewerId }: InputOf<'whep.delete'>): Deleted {
    const { ref } = sessionEntry(this.castpool.pool, id);
    viewerOf(ref, viewerId);
    ref.send({ type: 'viewer.left', viewerId });
    return { deleted: viewerId };
  }
}
