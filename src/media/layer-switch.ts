import type { RtpFanout, RtpSink } from './rtp-fanout.js';

/**
 * One viewer's place among the session's simulcast layers. It is a member of the layer it gets; asked
 * for another, it joins that one too (held until a keyframe, like any new member) and moves at that
 * keyframe's first packet: it leaves the old layer in the same step, and `continueAt` lets the
 * viewer's sender go on with sequence numbers and timestamps that follow its last packet. No frame of
 * either layer is cut in half, and the picture never stops while the new layer's keyframe is on its way.
 */
export class LayerSwitch {
  /** The layer whose packets reach the viewer (0: full picture). */
  current = 0;
  /** The layer it is moving to, or -1. */
  pending = -1;
  switches = 0;
  private readonly sinks: RtpSink[];

  constructor(
    private readonly fanout: RtpFanout,
    private readonly id: string,
    private readonly write: RtpSink,
    /** Called with the first packet of a new layer, before it is written. */
    private readonly continueAt: (packet: Buffer) => void,
  ) {
    this.sinks = fanout.layers.map((_, layer) => (packet: Buffer) => this.receive(layer, packet));
  }

  join(): void {
    this.fanout.layers[this.current]?.add(this.id, this.sinks[this.current] as RtpSink);
  }

  /** Asks for a layer (clamped to those that exist); true when a move starts. */
  want(wanted: number): boolean {
    const layer = Math.max(0, Math.min(wanted, this.fanout.layers.length - 1));
    if (layer === this.current) {
      this.cancelPending();
      return false;
    }
    if (layer === this.pending) return false;
    this.cancelPending();
    this.pending = layer;
    this.fanout.layers[layer]?.add(this.id, this.sinks[layer] as RtpSink);
    return true;
  }

  /** Whether the viewer still waits for its first keyframe (on the layer it gets). */
  get waiting(): boolean {
    return this.fanout.layers[this.current]?.isWaiting(this.id) ?? false;
  }

  leave(): void {
    for (const layer of this.fanout.layers) layer.remove(this.id);
    this.pending = -1;
  }

  private cancelPending(): void {
    if (this.pending >= 0) this.fanout.layers[this.pending]?.remove(this.id);
    this.pending = -1;
  }

  private receive(layer: number, packet: Buffer): void {
    if (layer === this.current) {
      this.write(packet);
      return;
    }
    if (layer !== this.pending) return;
    // The wanted layer's first packet starts a keyframe (its fan-out held us until one): move now.
    this.fanout.layers[this.current]?.remove(this.id);
    this.current = layer;
    this.pending = -1;
    this.switches++;
    this.continueAt(packet);
    this.write(packet);
  }
}
