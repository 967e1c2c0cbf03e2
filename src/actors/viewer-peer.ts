import { randomUUID } from 'node:crypto';
import {
  MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RTCRtpHeaderExtensionParameters,
  type RTCRtpSender,
} from 'werift';
import type { ViewerScope } from '../access/index.js';
import type { Codec, ViewerHandle, ViewerLink, ViewerOffer } from '../machines/types.js';
import { opusCodec } from '../media/audio-fanout.js';
import { answerFragment, type IceCredentials, restartedOffer } from '../media/ice-restart.js';
import { PLAYOUT_DELAY_URI, playoutDelayPayload, stampingPlayoutDelay } from '../media/playout-delay.js';
import {
  H264_BASELINE_FMTP,
  type OfferedCodec,
  restrictVideoToPayloadType,
  rtxPayloadTypeOf,
} from '../media/sdp.js';
import { answerAsDtlsServer } from './dtls-role.js';

/** Gathering host candidates takes milliseconds here; a stuck gatherer must not hold the HTTP answer. */
const GATHER_LIMIT_MS = 2000;

/** A negotiated WHEP viewer: its werift peer and the track the session's fan-out writes to. */
export class ViewerPeer implements ViewerHandle {
  /** Changes when the ICE session changes (WHEP ETag). */
  etag = `"${randomUUID()}"`;
  constructor(
    readonly viewerId: string,
    readonly codec: Codec,
    readonly pc: RTCPeerConnection,
    readonly track: MediaStreamTrack,
    readonly answer: string,
    /** view: video only; control: its `control` data channel drives the page. */
    readonly scope: ViewerScope = 'control',
    /** The session's sound to this viewer, when the session streams it and the player offered audio. */
    readonly audioTrack?: MediaStreamTrack,
    /** The most the player may hold a frame (ms), when it took the playout-delay extension. */
    maxPlayoutDelayMs = 0,
  ) {
    const id = this.pc
      .getTransceivers()
      .find((t) => t.kind === 'video')
      ?.headerExtensions.find((e) => e.uri === PLAYOUT_DELAY_URI)?.id;
    // werift's writeRtp is an own arrow function: passing it on keeps its track.
    this.writeVideo =
      id !== undefined && maxPlayoutDelayMs > 0
        ? stampingPlayoutDelay(track.writeRtp, id, playoutDelayPayload(0, maxPlayoutDelayMs))
        : track.writeRtp;
  }

  /** Hot path: one packet of the session's picture to this viewer. */
  readonly writeVideo: (packet: Buffer) => void;

  /**
   * The viewer restarted ICE (its network changed): the offer again with its new credentials makes
   * werift restart its own side (new credentials, candidates gathered anew, checks from scratch) while
   * DTLS and the media go on over whichever path the new checks find. Answers castpool's fragment.
   */
  async restartIce(credentials: IceCredentials): Promise<string> {
    const offer = this.pc.remoteDescription?.sdp;
    if (!offer) throw new Error('the viewer has no remote description');
    await this.pc.setRemoteDescription({ type: 'offer', sdp: restartedOffer(offer, credentials) });
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await waitForGathering(this.pc);
    const local = this.pc.localDescription?.sdp;
    if (!local) throw new Error('no local description after the ICE restart');
    this.etag = `"${randomUUID()}"`;
    this.iceRestarts++;
    return answerFragment(local);
  }

  /** The picture's sender (a player may offer its audio section first: most do). */
  get videoSender(): RTCRtpSender | undefined {
    return this.pc.getTransceivers().find((t) => t.sender.track === this.track)?.sender;
  }

  /** The sound's sender, when the viewer gets sound. */
  get audioSender(): RTCRtpSender | undefined {
    const { audioTrack } = this;
    return audioTrack && this.pc.getTransceivers().find((t) => t.sender.track === audioTrack)?.sender;
  }

  iceRestarts = 0;
  /** Its place among the simulcast layers, once it is served. */
  layers: { current: number; switches: number } | undefined;

  link(): ViewerLink {
    const stats = (this.videoSender?.collectStats(0) ?? []) as unknown as Record<string, unknown>[];
    const outbound = stats.find((s) => s.type === 'outbound-rtp') ?? {};
    const remote = stats.find((s) => s.type === 'remote-inbound-rtp') ?? {};
    const count = (value: unknown) => (typeof value === 'number' ? value : 0);
    return {
      viewerId: this.viewerId,
      scope: this.scope,
      rttMs: typeof remote.roundTripTime === 'number' ? Math.round(remote.roundTripTime * 1000) : null,
      lossPercent:
        typeof remote.fractionLost === 'number' ? Math.round(remote.fractionLost * 1000) / 10 : null,
      packetsLost: count(remote.packetsLost),
      packetsSent: count(outbound.packetsSent),
      nacks: count(outbound.nackCount),
      retransmits: count(outbound.retransmittedPacketsSent),
      keyframeRequests: count(outbound.pliCount),
      iceRestarts: this.iceRestarts,
      layer: this.layers?.current ?? 0,
      layerSwitches: this.layers?.switches ?? 0,
    };
  }

  async close(): Promise<void> {
    this.track.stop();
    this.audioTrack?.stop();
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

/** The chosen codec, and RTX for it when the player offers RTX (werift then repairs NACKs on the RTX stream). */
function videoCodecs(offered: OfferedCodec, offer: string): RTCRtpCodecParameters[] {
  const codecs = [codecParameters(offered)];
  if (rtxPayloadTypeOf(offer, offered.payloadType) !== undefined)
    codecs.push(
      new RTCRtpCodecParameters({
        mimeType: 'video/rtx',
        clockRate: 90000,
        parameters: `apt=${offered.payloadType}`,
      }),
    );
  return codecs;
}

/** A WHEP offer as the session's viewer actor gets it: the SDP, the codec chosen from it, the token's scope. */
export interface WhepOffer extends ViewerOffer {
  readonly sdp: string;
  readonly offered: OfferedCodec;
  readonly scope: ViewerScope;
}

/** Where castpool's own end of viewers' media listens (config `webrtc`). */
export interface ViewerTransport {
  udpPortMin: number;
  udpPortMax: number;
  iceTcp: boolean;
  /** The most a player may hold a frame before showing it (ms; 0: the player decides). */
  maxPlayoutDelayMs: number;
}

/**
 * Answers a WHEP offer with a send-only werift peer carrying exactly the chosen codec, and the
 * session's sound (Opus) when it streams it and the player offered audio.
 */
export async function negotiateViewer(
  { viewerId, sdp: offer, offered: codec, scope }: WhepOffer,
  transport: ViewerTransport,
  audio = false,
): Promise<ViewerPeer> {
  const pc = new RTCPeerConnection({
    // castpool gathers host candidates only: viewers reach it directly or through their TURN relay
    // (werift's default is a public STUN host, unreachable from loopback-only machines).
    iceServers: [],
    // One range for operators to open (werift picks a free port in it per viewer).
    icePortRange: transport.udpPortMax > 0 ? [transport.udpPortMin, transport.udpPortMax] : undefined,
    iceUseTcp: transport.iceTcp,
    // Most players offer audio too: answered (Opus), inactive unless the session streams its sound.
    codecs: { video: videoCodecs(codec, offer), audio: [opusCodec()] },
    // Only the playout delay (when configured): werift's own extensions are not used by the relay.
    headerExtensions: {
      video:
        transport.maxPlayoutDelayMs > 0
          ? [new RTCRtpHeaderExtensionParameters({ id: 1, uri: PLAYOUT_DELAY_URI })]
          : [],
      audio: [],
    },
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
    let audioTrack: MediaStreamTrack | undefined;
    for (const other of pc.getTransceivers()) {
      if (other.kind !== 'audio') continue;
      if (audio && !audioTrack) {
        audioTrack = new MediaStreamTrack({ kind: 'audio' });
        await other.sender.replaceTrack(audioTrack);
        other.setDirection('sendonly');
        // One stream (msid) for picture and sound: the player plays them in sync.
        other.sender.streamId = transceiver.sender.streamId = `castpool-${viewerId}`;
      } else other.setDirection('inactive');
    }
    answerAsDtlsServer(pc);
    await pc.setLocalDescription(await pc.createAnswer());
    await waitForGathering(pc);
    const local = pc.localDescription?.sdp;
    if (!local) throw new Error('no local description');
    const answer = withoutRejectedFromBundle(local);
    return new ViewerPeer(
      viewerId,
      codec.codec,
      pc,
      track,
      answer,
      scope,
      audioTrack,
      transport.maxPlayoutDelayMs,
    );
  } catch (error) {
    await pc.close().catch(() => {});
    throw error;
  }
}

/**
 * werift answers an inactive section (the player's audio) with port 0, a rejected section, but keeps
 * it in the BUNDLE group; browsers refuse such an answer. A rejected section is not bundled.
 */
export function withoutRejectedFromBundle(sdp: string): string {
  const rejected = new Set<string>();
  for (const section of sdp.split(/\r?\n(?=m=)/).slice(1)) {
    const mid = /^a=mid:(\S+)/m.exec(section)?.[1];
    if (mid && /^m=\w+ 0 /.test(section)) rejected.add(mid);
  }
  if (rejected.size === 0) return sdp;
  return sdp.replace(/^a=group:BUNDLE (.*?)(\r?)$/m, (_line, mids: string, cr: string) => {
    const kept = mids.split(' ').filter((mid) => !rejected.has(mid));
    return `a=group:BUNDLE ${kept.join(' ')}${cr}`;
  });
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
