import { CaptureClock } from './capture-clock.js';
import type { Codec } from './codec.js';
import { startsKeyframe } from './keyframe.js';
import { StreamContinuity } from './stream-continuity.js';

/**
 * The payload type of every packet the fan-out forwards, whatever its source used: viewers' werift
 * senders write their own negotiated one, and a recorder's SDP names this one.
 */
export const FORWARDED_PAYLOAD_TYPE = 96;

/** Frames of one stamp are sent this far apart (1 ms at 90 kHz). */
const SEPARATION_TICKS = 90;

/** Where one viewer's RTP goes (a werift track's writeRtp). */
export type RtpSink = (packet: Buffer) => void;

interface Viewer {
  sink: RtpSink;
  /** Held back until a keyframe starts, so a late joiner's first frame decodes. */
  waitingForKeyframe: boolean;
}

/**
 * One encoded stream to any number of viewers. Per packet: a keyframe check only while someone waits,
 * a marker-bit frame count, and one call per viewer. No allocation, no awaits.
 */
export class RtpFanout {
  /**
   * The session's simulcast layers, full picture first: `layers[0]` is this fan-out, the others carry
   * the half and quarter pictures while a simulcast capture runs (`activeLayers` says how many do).
   * They travel with this one across restarts and tabs.
   */
  readonly layers: RtpFanout[];
  /** Layers the running capture sends (1: no simulcast; set by the capture). */
  activeLayers = 1;
  private readonly viewers = new Map<string, Viewer>();
  private codec: Codec = 'H264';
  /** Complete frames forwarded (RTP marker bit), for delivered-FPS. */
  framesOut = 0;
  /** Called after each complete frame went out (frame timing); undefined when nobody measures. */
  onFrameSent: (() => void) | undefined;
  packetsOut = 0;
  bytesOut = 0;
  private waiting = 0;
  /** Output continuity across source changes (encoder restart, tab capture re-established). */
  private readonly continuity = new StreamContinuity(90);
  /** When the frames now going out were captured (for viewers' sender reports). */
  readonly clock = new CaptureClock(90_000);
  // Frames told apart: a frame stamped like the one before it (Chromium re-encodes its last captured
  // frame as the keyframe a PLI asked for) goes 1 ms later (a recording's time base), so no two frames
  // share a time.
  private frameEnded = true;
  private frameRawTs = -1;
  private frameOutTs = -1;
  private frameShift = 0;

  /** After a source change every viewer waits for the new source's first keyframe. */
  private switchSource(): void {
    for (const viewer of this.viewers.values()) viewer.waitingForKeyframe = true;
    this.waiting = this.viewers.size;
  }

  constructor(lowerLayers = 2) {
    this.layers = [this];
    for (let i = 0; i < lowerLayers; i++) this.layers.push(new RtpFanout(0));
  }

  setCodec(codec: Codec): void {
    this.codec = codec;
    for (const layer of this.layers) if (layer !== this) layer.setCodec(codec);
  }

  add(id: string, sink: RtpSink): void {
    this.remove(id);
    this.viewers.set(id, { sink, waitingForKeyframe: true });
    this.waiting++;
  }

  remove(id: string): void {
    const viewer = this.viewers.get(id);
    if (!viewer) return;
    if (viewer.waitingForKeyframe) this.waiting--;
    this.viewers.delete(id);
  }

  get size(): number {
    return this.viewers.size;
  }

  /** Whether this viewer joined (or saw its source change) and still waits for a keyframe. */
  isWaiting(id: string): boolean {
    return this.viewers.get(id)?.waitingForKeyframe ?? false;
  }

  /** Number of viewers still waiting for a keyframe. */
  get waitingViewers(): number {
    return this.waiting;
  }

  private separateFrames(packet: Buffer): void {
    const ts = packet.readUInt32BE(4);
    if (this.frameEnded) {
      // Later than the last frame as sent: as it is. Not older than the frame before as stamped, yet not
      // later than it as sent: 1 ms past that. Older: a late packet of an earlier frame, left as it is.
      const notOlder = this.frameOutTs >= 0 && ((ts - this.frameRawTs) | 0) >= 0;
      const notLater = ((ts - this.frameOutTs) | 0) < SEPARATION_TICKS;
      this.frameShift = notOlder && notLater ? ((this.frameOutTs + SEPARATION_TICKS - ts) | 0) >>> 0 : 0;
      this.frameRawTs = ts;
      this.frameOutTs = (ts + this.frameShift) >>> 0;
      this.frameEnded = false;
    }
    if (this.frameShift !== 0) packet.writeUInt32BE((ts + this.frameShift) >>> 0, 4);
    if (packet[1]! & 0x80) this.frameEnded = true;
  }

  /** A sender report from the capturing browser (ignored unless it is about this layer's current source). */
  senderReport(ssrc: number, ntp: bigint, rtpTimestamp: number): void {
    const outgoing = this.continuity.outgoingTimestamp(ssrc, rtpTimestamp);
    if (outgoing >= 0) this.clock.note(ntp, outgoing);
  }

  forward(packet: Buffer): void {
    if (packet.length < 12) return;
    const outcome = this.continuity.rewrite(packet);
    if (outcome === 'dropped') return;
    if (outcome === 'switched') {
      this.switchSource();
      this.clock.forget();
    }
    packet[1] = (packet[1]! & 0x80) | FORWARDED_PAYLOAD_TYPE;
    this.separateFrames(packet);
    this.continuity.sent(packet);
    this.packetsOut++;
    this.bytesOut += packet.length;
    if (packet.length > 1 && packet[1]! & 0x80) this.framesOut++;
    const keyStart = this.waiting > 0 && startsKeyframe(this.codec, packet);
    for (const viewer of this.viewers.values()) {
      if (viewer.waitingForKeyframe) {
        if (!keyStart) continue;
        viewer.waitingForKeyframe = false;
        this.waiting--;
      }
      viewer.sink(packet);
    }
    if (this.onFrameSent && packet.length > 1 && packet[1]! & 0x80) this.onFrameSent();
  }
}
