import { randomUUID } from 'node:crypto';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { fromCallback } from 'xstate';
import type { ViewerScope } from '../access/index.js';
import type { Codec, PageHandle, ViewerCommand, ViewerHandle } from '../machines/types.js';
import { H264_BASELINE_FMTP, type OfferedCodec, restrictVideoToPayloadType } from '../media/sdp.js';
import type { ActorDeps } from './deps.js';
import { InputBudget } from './input-budget.js';
import type { SessionPage } from './page.js';
import { parseControlMessage, RemoteInput } from './remote-input.js';

/** Gathering host candidates takes milliseconds here; a stuck gatherer must not hold the HTTP answer. */
const GATHER_LIMIT_MS = 2000;
/** A viewer that never connects is dropped so it does not keep the encoder running. */
const CONNECT_LIMIT_MS = 15_000;
/** A connected viewer that sends no RTCP for this long is gone (a closed tab says nothing). */
const RTCP_SILENCE_MS = 8000;
/** At most one keyframe request per viewer per this period reaches the capture. */
const KEYFRAME_REQUEST_GAP_MS = 500;
/** A joined viewer still without a keyframe asks again this often (not every player sends PLIs). */
const KEYFRAME_RETRY_MS = 1000;

/** A negotiated WHEP viewer: its werift peer and the track the session's fan-out writes to. */
export class ViewerPeer implements ViewerHandle {
  readonly viewerId = randomUUID();
  /** Changes when the ICE session changes (WHEP ETag). */
  etag = `"${randomUUID()}"`;
  constructor(
    readonly codec: Codec,
    readonly pc: RTCPeerConnection,
    readonly track: MediaStreamTrack,
    readonly answer: string,
    /** view: video only; control: its `control` data channel drives the page. */
    readonly scope: ViewerScope = 'control',
  ) {}

  async close(): Promise<void> {
    this.track.stop();
    await this.pc.close().catch(() => {});
  }
}

function codecParameters(offered: OfferedCodec): RTCRtpCodecParameters {
  const rtcpFeedback = [
    { type: 'nack' },
    { type: 'nack', parameter: 'pli' },
    { type: 'ccm', parameter: 'fir' },
  ];
  return new RTCRtpCodecParameters(
    offered.codec === 'H264'
      ? {
          mimeType: 'video/H264',
          clockRate: 90000,
          rtcpFeedback,
          parameters: offered.fmtp || H264_BASELINE_FMTP,
        }
      : { mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback },
  );
}

/** Answers a WHEP offer with a send-only werift peer carrying exactly the chosen codec. */
export async function negotiateViewer(
  offer: string,
  codec: OfferedCodec,
  scope: ViewerScope = 'control',
): Promise<ViewerPeer> {
  const pc = new RTCPeerConnection({
    iceServers: [], // werift's default is a public STUN host, unreachable from loopback-only machines
    codecs: { video: [codecParameters(codec)], audio: [] },
    headerExtensions: { video: [], audio: [] },
  });
  try {
    await pc.setRemoteDescription({
      type: 'offer',
      sdp: restrictVideoToPayloadType(offer, codec.payloadType),
    });
    const transceiver = pc.getTransceivers().find((t) => t.kind === 'video');
    if (!transceiver) throw new Error('the offer has no video transceiver');
    const track = new MediaStreamTrack({ kind: 'video' });
    await transceiver.sender.replaceTrack(track);
    transceiver.setDirection('sendonly');
    await pc.setLocalDescription(await pc.createAnswer());
    await waitForGathering(pc);
    const answer = pc.localDescription?.sdp;
    if (!answer) throw new Error('no local description');
    return new ViewerPeer(codec.codec, pc, track, answer, scope);
  } catch (error) {
    await pc.close().catch(() => {});
    throw error;
  }
}

function waitForGathering(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, GATHER_LIMIT_MS);
    const { unSubscribe } = pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') done();
    });
    function done() {
      clearTimeout(timer);
      unSubscribe();
      resolve();
    }
  });
}

/**
 * One viewer of a session: plugs its track into the fan-out, reports when it goes away and
 * passes its keyframe requests upstream (rate-limited). Stopping the actor closes the peer.
 */
export function viewerActor(deps: ActorDeps) {
  return fromCallback<ViewerCommand, { page: PageHandle; viewer: ViewerHandle }>(
    ({ input, sendBack, receive }) => {
      const page = input.page as SessionPage;
      const peer = input.viewer as ViewerPeer;
      const { viewerId } = peer;
      const left = () => sendBack({ type: 'viewer.left', viewerId });
      let lastKeyframeRequest = 0;
      // Packets sent before DTLS is up are lost, keyframe included: join the fan-out only once connected.
      const connected = () => {
        page.fanout.add(viewerId, (packet) => peer.track.writeRtp(packet));
        lastKeyframeRequest = Date.now();
        sendBack({ type: 'keyframe.request' });
      };
      const connectTimer = setTimeout(() => {
        if (peer.pc.connectionState !== 'connected') left();
      }, CONNECT_LIMIT_MS);
      const stateSub = peer.pc.connectionStateChange.subscribe((state) => {
        if (state === 'connected') connected();
        if (state === 'failed' || state === 'closed') left();
      });
      if (peer.pc.connectionState === 'connected') connected();
      const sender = peer.pc.getTransceivers()[0]?.sender;
      const pliSub = sender?.onPictureLossIndication.subscribe(() => {
        const now = Date.now();
        if (now - lastKeyframeRequest < KEYFRAME_REQUEST_GAP_MS) return;
        lastKeyframeRequest = now;
        sendBack({ type: 'keyframe.request' });
      });
      // A receiver reports (RTCP) about every second; a closed tab just stops, with no goodbye, and
      // ICE consent would take 30 s to expire. A player that has reported and then falls silent for
      // RTCP_SILENCE_MS is gone (one that never reports is left to ICE). Any RTCP on the viewer's
      // transport counts: werift routes to the sender only reports naming its SSRC, and a receiver
      // that has not decoded yet sends reports naming none (such a viewer was never freed).
      let lastRtcpAt = 0;
      const rtcpSub = sender?.dtlsTransport?.onRtcp.subscribe(() => {
        lastRtcpAt = Date.now();
      });
      const checkTimer = setInterval(() => {
        const now = Date.now();
        if (lastRtcpAt > 0 && now - lastRtcpAt > RTCP_SILENCE_MS) left();
        // The request on joining can go unanswered (a capture being re-established, a busy encoder).
        if (page.fanout.isWaiting(viewerId) && now - lastKeyframeRequest >= KEYFRAME_RETRY_MS) {
          lastKeyframeRequest = now;
          sendBack({ type: 'keyframe.request' });
        }
      }, 1000);
      const input$ = new RemoteInput(
        page,
        (viewport) => sendBack({ type: 'viewport.changed', viewport }),
        deps.config.limits.inputQueue,
      );
      receive((event) => {
        if (event.type === 'viewer.page') input$.usePage(event.page as SessionPage);
      });
      const channelSub = peer.pc.onDataChannel.subscribe((channel) => {
        if (channel.label !== 'control') return;
        channel.stateChanged.subscribe((state) => {
          if (state === 'closed') left(); // our player closes it only by going away
        });
        if (peer.scope !== 'control') {
          // Said once, so a view-only player can show why its input does nothing.
          channel.stateChanged.subscribe((state) => {
            if (state === 'open') channel.send(JSON.stringify({ t: 'refused', reason: 'view-only token' }));
          });
          if (channel.readyState === 'open')
            channel.send(JSON.stringify({ t: 'refused', reason: 'view-only token' }));
          channel.onMessage.subscribe(() => deps.metrics.controlInputs.inc({ outcome: 'refused' }));
          return;
        }
        const { controlInputs } = deps.metrics;
        const { inputMessagesPerSecond, inputTextBytesPerSecond } = deps.config.limits;
        const budget = new InputBudget(inputMessagesPerSecond, inputTextBytesPerSecond);
        channel.onMessage.subscribe((data) => {
          const message = parseControlMessage(data);
          if (!message) {
            controlInputs.inc({ outcome: 'malformed' });
            return;
          }
          const textBytes = message.t === 'text' ? Buffer.byteLength(message.text) : 0;
          if (!budget.take(textBytes) || !input$.apply(message)) {
            controlInputs.inc({ outcome: 'dropped' });
            return;
          }
          controlInputs.inc({ outcome: 'applied' });
        });
      });
      deps.log.debug({ sessionId: page.sessionId, viewerId, scope: peer.scope }, 'viewer joined');
      return () => {
        channelSub.unSubscribe();
        clearTimeout(connectTimer);
        clearInterval(checkTimer);
        rtcpSub?.unSubscribe();
        stateSub.unSubscribe();
        pliSub?.unSubscribe();
        page.fanout.remove(viewerId);
        void peer.close();
        deps.log.debug({ sessionId: page.sessionId, viewerId }, 'viewer left');
      };
    },
  );
}
