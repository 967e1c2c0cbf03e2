/**
 * One outgoing RTP stream from sources that come and go (an encoder restarted, a tab capture
 * re-established, a browser replaced): a new source continues the old one's sequence numbers and
 * timestamps, its time moved on by the wall time between them, so receivers see one stream. The tail
 * of a replaced source is dropped rather than flapping between the two. Per packet: two reads and,
 * after a switch, two writes; no allocation.
 */
export class StreamContinuity {
  private ssrc = -1;
  private retiredSsrc = -1;
  private seqOffset = 0;
  private tsOffset = 0;
  private lastSeq = -1;
  private lastTs = 0;
  private lastAt = 0;

  /** @param ticksPerMs the codec's RTP clock per millisecond (90 for video, 48 for Opus). */
  constructor(private readonly ticksPerMs: number) {}

  /**
   * Rewrites the packet in place into the outgoing stream. Returns `dropped` (a replaced source's
   * late packet), `switched` (the first packet of a new source) or `same`.
   */
  rewrite(packet: Buffer): 'dropped' | 'switched' | 'same' {
    const ssrc = packet.readUInt32BE(8);
    let outcome: 'switched' | 'same' = 'same';
    if (ssrc !== this.ssrc) {
      if (ssrc === this.retiredSsrc) return 'dropped';
      if (this.lastSeq >= 0) {
        const elapsedTicks = Math.max(1, Math.round((performance.now() - this.lastAt) * this.ticksPerMs));
        this.seqOffset = (this.lastSeq + 1 - packet.readUInt16BE(2)) & 0xffff;
        this.tsOffset = (this.lastTs + elapsedTicks - packet.readUInt32BE(4)) >>> 0;
      }
      this.retiredSsrc = this.ssrc;
      this.ssrc = ssrc;
      outcome = 'switched';
    }
    if (this.seqOffset !== 0 || this.tsOffset !== 0) {
      packet.writeUInt16BE((packet.readUInt16BE(2) + this.seqOffset) & 0xffff, 2);
      packet.writeUInt32BE((packet.readUInt32BE(4) + this.tsOffset) >>> 0, 4);
    }
    return outcome;
  }

  /** A timestamp of `ssrc` as the outgoing stream carries it, or -1 if `ssrc` is not the current source. */
  outgoingTimestamp(ssrc: number, timestamp: number): number {
    return ssrc === this.ssrc ? (timestamp + this.tsOffset) >>> 0 : -1;
  }

  /** Notes the packet as sent (after any later rewrite of its timestamp). */
  sent(packet: Buffer): void {
    this.lastSeq = packet.readUInt16BE(2);
    this.lastTs = packet.readUInt32BE(4);
    this.lastAt = performance.now();
  }
}
