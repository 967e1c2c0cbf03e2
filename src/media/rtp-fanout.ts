import type { Codec } from '../machines/types.js';
import { startsKeyframe } from './keyframe.js';

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
  private readonly viewers = new Map<string, Viewer>();
  private codec: Codec = 'H264';
  /** Complete frames forwarded (RTP marker bit), for delivered-FPS. */
  framesOut = 0;
  packetsOut = 0;
  private waiting = 0;

  setCodec(codec: Codec): void {
    this.codec = codec;
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

  /** Number of viewers still waiting for a keyframe. */
  get waitingViewers(): number {
    return this.waiting;
  }

  forward(packet: Buffer): void {
    this.packetsOut++;
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
  }
}
