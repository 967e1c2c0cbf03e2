import { randomUUID } from 'node:crypto';
import type { ViewerPeer, WhepOffer } from '../actors/viewer-peer.js';
import { CastpoolError } from '../errors.js';
import { watchRefusal } from '../machines/pool.machine.js';
import { type SessionActorRef, watcherCount } from '../machines/session.machine.js';
import { fragmentCredentials, type IceCredentials } from '../media/ice-restart.js';
import { iceServersFor } from '../media/ice-servers.js';
import { assertVideoOffer, chooseCodec, iceUfrag, parseTrickleFragment } from '../media/sdp.js';
import type { Castpool } from '../system.js';
import { watchError } from './admission.js';
import { askSession } from './ask-session.js';
import { liveSession, sessionEntry, viewerOf } from './lookup.js';
import type { InputOf } from './operations.js';
import type { Deleted, ViewerAnswer, ViewerPatched } from './results.js';
import type { SessionCommands } from './sessions.js';
import { ViewerReservations } from './viewer-reservations.js';

/** RFC 8839 candidate-attribute, as much as castpool needs to refuse garbage. */
const CANDIDATE_LINE = /^candidate:\S+ \d+ (udp|tcp|UDP|TCP) \d+ \S+ \d+ typ (host|srflx|prflx|relay)( .*)?$/;

/** Longer than a viewer actor's own gathering limit: its answer or refusal comes before. */
const NEGOTIATION_TIMEOUT_MS = 10_000;

/** Sends the offer to the session and waits for how it ends: joined, refused, or the session gone. */
function joined(ref: SessionActorRef, offer: WhepOffer): Promise<ViewerPeer> {
  const refusal = (message: string, retryable: boolean) =>
    retryable
      ? new CastpoolError('conflict', `${message}; retry`, { retryable: true })
      : new CastpoolError('bad_request', `could not answer the SDP offer: ${message}`);
  return askSession<ViewerPeer>(
    ref,
    { type: 'viewer.offer', offer },
    {
      answer: (event) => {
        if (event.type === 'viewer.joined' && event.viewer.viewerId === offer.viewerId)
          return { value: event.viewer as ViewerPeer };
        if (event.type === 'viewer.refused' && event.viewerId === offer.viewerId)
          return { error: refusal(event.reason, event.retryable) };
        return undefined;
      },
      closed: () => refusal('the session closed while the viewer negotiated', true),
      late: () => refusal('the session did not take the viewer in time', true),
      timeoutMs: NEGOTIATION_TIMEOUT_MS,
    },
  );
}

/** Asks the session's viewer actor to restart ICE with the viewer's new credentials; its answer fragment. */
function iceRestarted(
  ref: SessionActorRef,
  viewerId: string,
  credentials: IceCredentials,
): Promise<{ etag: string; fragment: string }> {
  const requestId = randomUUID();
  return askSession<{ etag: string; fragment: string }>(
    ref,
    { type: 'viewer.iceRestart', viewerId, requestId, credentials },
    {
      answer: (event) => {
        if (event.type !== 'viewer.iceRestarted' || event.requestId !== requestId) return undefined;
        if (event.fragment && event.etag) return { value: { etag: event.etag, fragment: event.fragment } };
        return {
          error: new CastpoolError('conflict', `ICE restart failed: ${event.error ?? 'no answer'}`, {
            retryable: true,
          }),
        };
      },
      closed: () => new CastpoolError('not_found', 'the session closed during the ICE restart'),
      late: () =>
        new CastpoolError('conflict', 'the ICE restart did not finish in time; retry', { retryable: true }),
      timeoutMs: NEGOTIATION_TIMEOUT_MS,
    },
  );
}

/** WHEP viewers of this node's sessions: offer (join), trickle (patch), leave (delete). */
export class ViewerCommands {
  private readonly reservations: ViewerReservations;

  constructor(
    private readonly castpool: Castpool,
    private readonly sessions: SessionCommands,
  ) {
    this.reservations = new ViewerReservations(castpool.config.limits, castpool.pool);
  }

  /**
   * A viewer joins: the session's viewer actor negotiates the offer, the answer is the one it made.
   * A hibernated session wakes for it. 429 past the viewer caps.
   */
  async offer({ id, offer, scope }: InputOf<'whep.offer'>): Promise<ViewerAnswer> {
    assertVideoOffer(offer);
    const { pool } = this.castpool;
    const { ref } = sessionEntry(pool, id);
    const waking = ref.getSnapshot().hasTag('asleep');
    const { context } = waking ? ref.getSnapshot() : liveSession(pool, id).ref.getSnapshot();
    // The first viewer picks the codec (H.264 when it can); the others must take what is encoding.
    const watched = watcherCount(context) > 0;
    const offered = chooseCodec(offer, watched ? context.codec : undefined);
    // The caps first (429: a hard limit), then the host: a first viewer starts an encode, refused
    // now if the host cannot carry it.
    const starting = this.reservations.startingWatches(id);
    const release = this.reservations.reserve(id, !watched);
    try {
      const saturated = watched ? undefined : watchRefusal(pool.getSnapshot().context, starting);
      if (saturated) throw watchError(saturated);
      // The offer follows the resume without yielding to timers, so nothing (an idle or
      // memory-pressure hibernation) can slip in between.
      if (waking) await this.sessions.resume({ id });
      liveSession(pool, id);
      const viewer = await joined(ref, {
        viewerId: randomUUID(),
        codec: offered.codec,
        sdp: offer,
        offered,
        scope,
      });
      return {
        viewerId: viewer.viewerId,
        answer: viewer.answer,
        etag: viewer.etag,
        iceServers: iceServersFor(this.castpool.config.webrtc, viewer.viewerId, Date.now()),
      };
    } finally {
      release();
    }
  }

  /**
   * WHEP PATCH: trickled candidates are added; new ICE credentials restart ICE (the viewer's network
   * changed): its viewer actor restarts castpool's side and the answer carries castpool's new
   * credentials and candidates (`fragment`, 200) and a new ETag.
   */
  async patch({ id, viewerId, fragment, ifMatch }: InputOf<'whep.patch'>): Promise<ViewerPatched> {
    const { ref } = sessionEntry(this.castpool.pool, id);
    const peer = viewerOf(ref, viewerId) as ViewerPeer;
    if (ifMatch && ifMatch !== '*' && ifMatch !== peer.etag)
      throw new CastpoolError(
        'precondition_failed',
        'If-Match does not name this viewer session (stale ETag)',
      );
    const candidates = parseTrickleFragment(fragment);
    const malformed = candidates.find(({ candidate }) => !CANDIDATE_LINE.test(candidate));
    if (malformed) throw new CastpoolError('bad_request', `malformed ICE candidate "${malformed.candidate}"`);
    const credentials = fragmentCredentials(fragment);
    const current = iceUfrag(peer.pc.remoteDescription?.sdp ?? '');
    const restart = credentials !== undefined && credentials.ufrag !== current;
    const restarted = restart ? await iceRestarted(ref, viewerId, credentials) : undefined;
    // Not awaited: werift resolves mDNS (.local) candidates with a ~10 s timeout, and the connection
    // does not wait for them (the viewer's checks arrive as peer-reflexive candidates).
    for (const candidate of candidates)
      peer.pc.addIceCandidate(candidate).catch((error: Error) => {
        this.castpool.log.debug({ err: error, sessionId: id, viewerId }, 'ICE candidate not added');
      });
    return restarted ?? { etag: peer.etag };
  }

  /** WHEP DELETE: the viewer leaves (its peer connection closes with its actor). */
  leave({ id, viewerId }: InputOf<'whep.delete'>): Deleted {
    const { ref } = sessionEntry(this.castpool.pool, id);
    viewerOf(ref, viewerId);
    ref.send({ type: 'viewer.left', viewerId });
    return { deleted: viewerId };
  }
}
