/**
 * Which simulcast layer one viewer gets (0 = the full picture, higher = smaller), decided once per
 * stats window from that viewer's own link: loss (packets its receiver reports lost against packets
 * sent to it) and round-trip time (a queue building up on a slow link). Pure: the viewer actor feeds it
 * windows and switches the viewer when the answer changes.
 *
 * Why loss and RTT rather than REMB or transport-cc: every WHEP player sends receiver reports; REMB
 * needs abs-send-time negotiated, and a transport-cc estimate measures what arrives, so it cannot show
 * headroom above the layer a viewer gets now. Headroom is found by probing: after a while without
 * trouble the viewer tries the layer above; a probe that fails waits longer before the next (bounded,
 * so a viewer whose cap is lifted climbs back within seconds).
 */
export interface LinkWindow {
  /** Packets sent to the viewer in the window. */
  packetsSent: number;
  /** Packets its receiver reported lost in the window (growth of the cumulative count). */
  packetsLost: number;
  /** Smoothed round-trip time now, or null before the first measurement. */
  rttMs: number | null;
}

export interface LayerRules {
  /** A window with this share lost is congested. */
  lossCongested: number;
  /** A window with less than this share lost is clean. */
  lossClean: number;
  /** RTT this far above the lowest seen is a queue: congested. */
  queueRttMs: number;
  /** Consecutive congested windows that move a viewer down a layer (a probe: its first one). */
  downAfterWindows: number;
  /** Clean windows before a probe of the layer above; doubled after a failed probe, up to `maxHoldWindows`. */
  holdWindows: number;
  maxHoldWindows: number;
  /** A probe that lasts this many windows without moving down succeeded (the hold is reset). */
  probeWindows: number;
}

export const defaultLayerRules: LayerRules = {
  lossCongested: 0.08,
  lossClean: 0.04,
  queueRttMs: 200,
  downAfterWindows: 2,
  holdWindows: 3,
  maxHoldWindows: 6,
  probeWindows: 3,
};

export class LayerChooser {
  /** The layer the viewer should get now. */
  layer = 0;
  private congested = 0;
  private clean = 0;
  private hold: number;
  private minRttMs = Number.POSITIVE_INFINITY;
  /** Windows since the last move up (a probe), or -1 when not probing. */
  private probing = -1;
  /** Moves so far (for the session view and metrics). */
  downs = 0;
  ups = 0;

  constructor(
    /** How many layers the stream has (1: nothing to choose). */
    readonly layers: number,
    private readonly rules: LayerRules = defaultLayerRules,
  ) {
    this.hold = rules.holdWindows;
  }

  /** One stats window of this viewer's link: the layer to use from now. */
  observe(window: LinkWindow): number {
    if (this.layers <= 1) return this.layer;
    const { rules } = this;
    if (window.rttMs !== null) this.minRttMs = Math.min(this.minRttMs, window.rttMs);
    // No packets, no evidence (a still page, a paused capture): nothing changes.
    if (window.packetsSent <= 0) return this.layer;
    const loss = Math.max(0, window.packetsLost) / window.packetsSent;
    const queued = window.rttMs !== null && window.rttMs - this.minRttMs > rules.queueRttMs;
    const isCongested = loss >= rules.lossCongested || queued;
    const isClean = loss < rules.lossClean && !queued;
    this.congested = isCongested ? this.congested + 1 : 0;
    this.clean = isClean ? this.clean + 1 : 0;
    if (this.probing >= 0) this.probing++;
    const downAfter = this.probing >= 0 ? 1 : rules.downAfterWindows;
    if (this.congested >= downAfter && this.layer < this.layers - 1) {
      // Back down; a probe that failed makes the next one wait longer.
      if (this.probing >= 0) this.hold = Math.min(rules.maxHoldWindows, this.hold * 2);
      this.probing = -1;
      this.layer++;
      this.downs++;
      this.congested = 0;
      this.clean = 0;
      return this.layer;
    }
    if (this.probing >= rules.probeWindows) {
      this.probing = -1;
      this.hold = rules.holdWindows;
    }
    if (this.clean >= this.hold && this.layer > 0) {
      this.layer--;
      this.ups++;
      this.probing = 0;
      this.clean = 0;
      this.congested = 0;
    }
    return this.layer;
  }
}
