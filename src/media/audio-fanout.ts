import { RTCRtpCodecParameters } from 'werift';
import { CaptureClock } from './capture-clock.js';
import type { RtpSink } from './rtp-fanout.js';
import { StreamContinuity } from './stream-continuity.js';

/** The payload type of the Opus packets the audio fan-out forwards (a recorder's SDP would name it). */
export const FORWARDED_AUDIO_PAYLOAD_TYPE = 111;

/**
 * A session's sound (Opus from its tab capture) to the viewers who listen. It travels with the
 * session's picture across tabs and restarts, so a new capture continues the same stream. Every Opus
 * packet decodes alone: no keyframe wait. Per packet: a rewrite and one call per listener.
 */
export class AudioFanout {
  private readonly listeners = new Map<string, RtpSink>();
  private readonly continuity = new StreamContinuity(48);
  /** When the sound now going out was captured (for listeners' sender reports). */
  readonly clock = new CaptureClock(48_000);
  packetsOut = 0;

  add(id: string, sink: RtpSink): void {
    this.listeners.set(id, sink);
  }

  remove(id: string): void {
    this.listeners.delete(id);
  }

  forward(packet: Buffer): void {
    if (packet.length < 12) return;
    const outcome = this.continuity.rewrite(packet);
    if (outcome === 'dropped') return;
    if (outcome === 'switched') this.clock.forget();
    packet[1] = (packet[1]! & 0x80) | FORWARDED_AUDIO_PAYLOAD_TYPE;
    this.continuity.sent(packet);
    this.packetsOut++;
    for (const sink of this.listeners.values()) sink(packet);
  }

  /** A sender report from the capturing browser (ignored unless it is about the current source). */
  senderReport(ssrc: number, ntp: bigint, rtpTimestamp: number): void {
    const outgoing = this.continuity.outgoingTimestamp(ssrc, rtpTimestamp);
    if (outgoing >= 0) this.clock.note(ntp, outgoing);
  }
}

/** Opus as castpool's werift peers negotiate it: the tab capture's upstream and every listener. */
export const opusCodec = () =>
  new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2 });
