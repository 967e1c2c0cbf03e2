import {
  type MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  type RtcpPacket,
  RtcpSrPacket,
  type RtpPacket,
  useRepairedRtpStreamId,
  useSdesMid,
  useSdesRTPStreamId,
} from 'werift';
import type { CaptureCommand, CaptureInput } from '../machines/types.js';
import { opusCodec } from '../media/audio-fanout.js';
import { RaiseWatch } from '../media/raise-watch.js';
import { H264_BASELINE_FMTP } from '../media/sdp.js';
import { fanoutLayerOf, type SimulcastLayer, simulcastLayers } from '../media/simulcast.js';
import type { CaptureReport } from './capture-pipeline.js';
import type { Capturer } from './capturer.js';
import type { ActorDeps } from './deps.js';
import { answerAsDtlsServer } from './dtls-role.js';
import type { SessionPage } from './page.js';
import { StatsWindow } from './stats-window.js';

type SendBack = (event: CaptureReport) => void;

const STATS_WINDOW_MS = 1000;
const KEYFRAME_REQUEST_GAP_MS = 300;

interface SenderStats {
  framesEncoded: number;
  limitation: string;
  totalEncodeTime: number;
  packetsSent: number;
  totalPacketSendDelay: number;
  /** The frame-rate limit in force on Chromium's sender. */
  maxFramerate?: number;
  /** The tab's stream ended (the tab closed): nothing more will come from this capture. */
  ended?: boolean;
}

/**
 * Tab strategy: Chromium captures its own tab in castpool's capturer document (an offscreen page of
 * castpool's extension; the captured page's scripts see nothing), encodes H.264 (or VP8 for VP8-only
 * viewers) and sends RTP to an upstream werift peer here; the packets go to the session's fan-out like
 * the screencast's. The tab's stream follows it across navigations and does not depend on the
 * document shown: plain http, Chromium's error pages and interstitials stream like any page.
 */
export class TabCapturePipeline {
  private upstream: RTCPeerConnection | undefined;
  private counted = false;
  private overlayEnabled = false;
  private upstreamSsrc = 0;
  private capturer: Capturer | undefined;
  private generation = 0;
  private fps: number;
  private stopped = false;
  private statsTimer: NodeJS.Timeout | undefined;
  private lastSender: SenderStats | undefined;
  private framesOutAtWindow = 0;
  private readonly window = new StatsWindow();
  private received = 0;
  private readonly lastKeyframeRequest = [0, 0, 0];
  /** Simulcast encodings (smallest first), or none: one encoding. */
  private readonly layers: SimulcastLayer[] | undefined;
  /** The SSRC each fan-out layer's packets come with (PLIs name it). */
  private readonly layerSsrcs: number[] = [];
  /** Chromium's capture sometimes keeps a lowered rate after it was raised again: see RaiseWatch. */
  private readonly raiseWatch = new RaiseWatch();

  constructor(
    private readonly page: SessionPage,
    private readonly input: CaptureInput,
    private readonly deps: ActorDeps,
    private readonly sendBack: SendBack,
  ) {
    this.fps = input.fps;
    this.layers = deps.config.encoder.simulcast
      ? simulcastLayers(deps.config.encoder.bitrateKbps, page.viewport)
      : undefined;
  }

  async start(): Promise<void> {
    this.page.fanout.setCodec(this.input.codec);
    this.framesOutAtWindow = this.page.fanout.framesOut;
    this.window.restart();
    await this.establish();
    this.statsTimer = setInterval(() => void this.reportStats(), STATS_WINDOW_MS);
  }

  private get bitrates() {
    // Not scaled down with the frame rate: the loopback peer gives Chromium's bandwidth estimate little
    // feedback, so a lowered cap took ~10 s to climb back (a session held at 10 FPS after its share
    // returned to 30). Fewer frames and a smaller picture already save the CPU.
    const top = this.deps.config.encoder.bitrateKbps;
    // Under simulcast the session's estimate must carry every layer.
    const maxKbps = this.layers ? this.layers.reduce((sum, layer) => sum + layer.kbps, 0) : top;
    return { maxKbps, startKbps: Math.round(maxKbps * 0.8), minKbps: Math.round(maxKbps / 3) };
  }

  /** The capture's key in the capturer: the tab's target id. */
  private get key(): string {
    return this.page.frameId;
  }

  /** (Re)starts the capture and its upstream peer; a newer call supersedes an older one. */
  private async establish(): Promise<void> {
    const generation = ++this.generation;
    const superseded = () => this.stopped || generation !== this.generation;
    const { cdp, viewport, context, frameId, captureGrant } = this.page;
    try {
      this.capturer ??= await captureGrant.capturer(context, cdp);
      if (superseded()) return;
      // A one-use grant for this tab from castpool's extension (pages cannot capture themselves).
      const streamId = await captureGrant.streamId(context, frameId, cdp);
      if (superseded()) return;
      const offeredFps = this.fps;
      const offer = (await this.capturer.call('offer', this.key, {
        streamId,
        width: viewport.width,
        height: viewport.height,
        fps: offeredFps,
        maxFps: Math.max(offeredFps, this.input.params.fps),
        codec: this.input.codec,
        fmtp: H264_BASELINE_FMTP,
        ...this.bitrates,
        ...(this.layers ? { layers: this.layers } : {}),
        audio: this.input.params.audio,
      })) as string;
      if (superseded()) return;
      const upstream = new RTCPeerConnection({
        iceServers: [],
        codecs: {
          video: [
            new RTCRtpCodecParameters({
              mimeType: `video/${this.input.codec}`,
              clockRate: 90000,
              rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }],
              parameters: this.input.codec === 'H264' ? H264_BASELINE_FMTP : undefined,
            }),
          ],
          audio: this.input.params.audio ? [opusCodec()] : [],
        },
        // Simulcast layers are told apart by their RID header extension (MID and repaired RID come with it).
        headerExtensions: {
          video: this.layers ? [useSdesMid(), useSdesRTPStreamId(), useRepairedRtpStreamId()] : [],
          audio: [],
        },
      });
      // The capture's first frame goes out before the transport is up and is lost; a static page then
      // sends nothing for about a second. Ask for a keyframe as soon as the upstream connects.
      this.upstreamSsrc = Number(/^a=ssrc:(\d+) /m.exec(offer)?.[1] ?? 0);
      upstream.connectionStateChange.subscribe((state) => {
        if (state === 'connected') this.requestKeyframe(true);
      });
      const layers = this.layers;
      upstream.onTrack.subscribe((track: MediaStreamTrack) => {
        if (track.kind === 'audio') track.onReceiveRtp.subscribe((rtp: RtpPacket) => this.forwardAudio(rtp));
        else if (!layers) track.onReceiveRtp.subscribe((rtp: RtpPacket) => this.forward(rtp, 0));
      });
      await upstream.setRemoteDescription({ type: 'offer', sdp: offer });
      // werift announces one track for a simulcast transceiver; each RID has its own.
      if (layers)
        for (const track of upstream.getTransceivers()[0]?.receiver.tracks ?? []) {
          const layer = fanoutLayerOf(track.rid, layers);
          if (layer >= 0) track.onReceiveRtp.subscribe((rtp: RtpPacket) => this.forward(rtp, layer));
        }
      this.page.fanout.activeLayers = layers ? layers.length : 1;
      answerAsDtlsServer(upstream);
      await upstream.setLocalDescription(await upstream.createAnswer());
      // Chromium's sender reports: when each layer's frames and the sound were captured (viewers' own
      // reports carry that on, so players sync picture and sound). One bundled transport carries all.
      upstream
        .getTransceivers()[0]
        ?.dtlsTransport.onRtcp.subscribe((packet: RtcpPacket) => this.senderReport(packet));
      const previous = this.upstream;
      this.upstream = upstream;
      void previous?.close();
      await this.capturer.call('answer', this.key, upstream.localDescription?.sdp);
      if (!this.counted) this.page.encoders++; // a re-established capture replaces the last one
      this.counted = true;
      // A rate change that arrived while the capture was starting found no sender: apply it now.
      if (this.fps !== offeredFps) this.applyLimit();
    } catch (error) {
      if (superseded()) return;
      this.sendBack({ type: 'capture.failed', reason: `tab capture: ${(error as Error).message}` });
    }
  }

  /** Hot path: strip header extensions (ids are per peer) and hand the packet to its layer's fan-out. */
  private forward(rtp: RtpPacket, layer: number): void {
    if (this.stopped) return;
    this.layerSsrcs[layer] = rtp.header.ssrc;
    if (layer === 0) {
      this.upstreamSsrc = rtp.header.ssrc;
      this.received += rtp.header.marker ? 1 : 0;
    }
    this.page.fanout.layers[layer]?.forward(withoutExtensions(rtp));
  }

  /** A sender report goes to every stream; each takes only its current source's. About one a second. */
  private senderReport(packet: RtcpPacket): void {
    if (this.stopped || packet.type !== RtcpSrPacket.type) return;
    const { ssrc, senderInfo } = packet as RtcpSrPacket;
    for (const layer of this.page.fanout.layers)
      layer.senderReport(ssrc, senderInfo.ntpTimestamp, senderInfo.rtpTimestamp);
    this.page.audio.senderReport(ssrc, senderInfo.ntpTimestamp, senderInfo.rtpTimestamp);
  }

  /** Hot path: the tab's sound to the session's listeners. */
  private forwardAudio(rtp: RtpPacket): void {
    if (!this.stopped) this.page.audio.forward(withoutExtensions(rtp));
  }

  handle(command: CaptureCommand): void {
    if (command.type === 'capture.rate') {
      this.raiseWatch.rateChanged(this.fps, command.fps, Date.now());
      this.fps = command.fps;
      this.applyLimit();
      return;
    }
    this.requestKeyframe(false, command.layer ?? 0);
  }

  /** Frame rate, bitrate and (below the target rate) a smaller picture, set on Chromium's sender. */
  private applyLimit(): void {
    const scale = this.fps < this.input.params.fps ? 1.5 : 1;
    const fps = this.fps;
    const limit = () => this.capturer?.call('limit', this.key, fps, this.bitrates.maxKbps, scale);
    limit()?.catch(() => {
      // refused mid-renegotiation or during a restart: try once more unless a newer rate took over
      setTimeout(() => {
        if (this.fps === fps && !this.stopped) limit()?.catch(() => {});
      }, 250).unref();
    });
  }

  private watchRaise(capturedFps: number): void {
    if (!this.raiseWatch.stuck(capturedFps, Date.now())) return;
    this.deps.log.info(
      { sessionId: this.page.sessionId, fps: this.fps, capturedFps },
      'tab capture kept its lowered rate; starting it again',
    );
    void this.establish();
  }

  /** Asks Chromium's encoder for a keyframe: a PLI upstream (rate-limited unless `immediately`). */
  private requestKeyframe(immediately: boolean, layer = 0): void {
    const now = Date.now();
    const ssrc = this.layerSsrcs[layer] ?? (layer === 0 ? this.upstreamSsrc : 0);
    if (!this.upstream || !ssrc) return;
    if (!immediately && now - (this.lastKeyframeRequest[layer] ?? 0) < KEYFRAME_REQUEST_GAP_MS) return;
    this.lastKeyframeRequest[layer] = now;
    const receiver = this.upstream.getTransceivers()[0]?.receiver;
    receiver?.sendRtcpPLI(ssrc).catch(() => {});
    void this.nudgeCompositor();
  }

  /**
   * The encoder can only make a keyframe from a new captured frame, and a static page produces none
   * for about a second. A transparent DevTools overlay rectangle makes the compositor draw one frame
   * without touching the page's DOM (its scripts see nothing).
   */
  private async nudgeCompositor(): Promise<void> {
    const { cdp } = this.page;
    try {
      if (!this.overlayEnabled) {
        await cdp.send('DOM.enable');
        await cdp.send('Overlay.enable');
        this.overlayEnabled = true;
      }
      const transparent = { r: 0, g: 0, b: 0, a: 0 };
      await cdp.send('Overlay.highlightRect', { x: 0, y: 0, width: 1, height: 1, color: transparent });
      await cdp.send('Overlay.hideHighlight');
    } catch {
      // navigating; the next request or the periodic refresh will do
    }
  }

  private async reportStats(): Promise<void> {
    const { fanout } = this.page;
    const delivered = fanout.framesOut - this.framesOutAtWindow;
    this.framesOutAtWindow = fanout.framesOut;
    const perSecond = this.window.close();
    const captured = this.received;
    this.received = 0;
    let limitation = 'none';
    try {
      const sender = (await this.capturer?.call('stats', this.key)) as SenderStats | undefined;
      if (!sender) return;
      if (sender.ended && !this.stopped) {
        this.sendBack({ type: 'capture.failed', reason: 'tab capture: the tab stream ended' });
        return;
      }
      limitation = sender.limitation;
      this.observeTiming(sender);
      // A setParameters refused twice (mid-renegotiation, a restart) must not leave a stale rate.
      if (sender.maxFramerate !== undefined && sender.maxFramerate !== this.fps) this.applyLimit();
    } catch {
      // restarting: no sender for a moment
    }
    if (this.stopped) return;
    this.watchRaise(perSecond(captured));
    // Chromium says when its encoder is CPU-bound: that is this strategy's overload signal.
    const cpuBound = limitation === 'cpu';
    this.sendBack({
      type: 'capture.stats',
      stats: {
        deliveredFps: perSecond(delivered),
        capturedFps: perSecond(captured),
        offered: 1,
        busyDrops: cpuBound ? 1 : 0,
        backlog: 0,
        droppedTotal: 0,
      },
    });
  }

  /** Chromium's own encoder timing, per frame over the last window (it encodes in the page). */
  private observeTiming(now: SenderStats): void {
    const last = this.lastSender;
    this.lastSender = now;
    if (!last || now.framesEncoded <= last.framesEncoded) return;
    const encodeMs =
      ((now.totalEncodeTime - last.totalEncodeTime) * 1000) / (now.framesEncoded - last.framesEncoded);
    const packets = now.packetsSent - last.packetsSent;
    const sendMs =
      packets > 0 ? ((now.totalPacketSendDelay - last.totalPacketSendDelay) * 1000) / packets : 0;
    const { encodeMs: encode, captureToSendMs } = this.deps.metrics;
    encode.observe({ capture: 'tab' }, encodeMs);
    captureToSendMs.observe({ capture: 'tab' }, encodeMs + sendMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.page.fanout.activeLayers = 1;
    if (this.counted) this.page.encoders--;
    this.counted = false;
    clearInterval(this.statsTimer);
    await this.capturer?.release(this.key);
    await this.upstream?.close().catch(() => {});
  }
}

/** The packet as bytes without its header extensions: their ids are per peer, the viewers' differ. */
function withoutExtensions(rtp: RtpPacket): Buffer {
  rtp.header.extension = false;
  rtp.header.extensions = [];
  return rtp.serialize();
}
