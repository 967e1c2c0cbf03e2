/**
 * Gives each frame of an RTP stream its own timestamp: the 90 kHz time its first packet arrived.
 *
 * Why: the screencast's ffmpeg stamps frames in its input's 1/25 s time base (the mpjpeg demuxer's,
 * wall-clock timestamps included), so at 30 FPS several frames share one RTP timestamp. Viewers
 * render frames of equal timestamps as one instant and a recording holds frames with equal times.
 * Frames are told apart by the marker bit on their last packet. Per packet: two reads, one write.
 */
export class RtpRetimer {
  private frameEnded = true;
  private current = -1;

  retime(packet: Buffer, nowMs: number): void {
    if (packet.length < 12) return;
    if (this.frameEnded) {
      let ts = Math.round(nowMs * 90) >>> 0;
      // Two frames within 1/90 ms still get distinct, increasing timestamps.
      if (this.current >= 0 && ((ts - this.current) | 0) <= 0) ts = (this.current + 1) >>> 0;
      this.current = ts;
      this.frameEnded = false;
    }
    packet.writeUInt32BE(this.current, 4);
    if (packet[1]! & 0x80) this.frameEnded = true;
  }
}
