import type { RTCRtpSender } from 'werift';
import { LayerChooser } from '../media/layer-chooser.js';

/**
 * Reads one viewer's link from its werift sender once per window (packets sent, the receiver's
 * cumulative loss, the NACKed packets since the last window, the smoothed RTT) and asks a
 * `LayerChooser` which simulcast layer it carries. NACKs arrive within a round trip of a loss; receiver
 * reports only about once a second: the larger of the two counts.
 */
export class LinkAdaptation {
  private chooser = new LayerChooser(1);
  private sent = 0;
  private lost = 0;
  private nacked = 0;
  private readonly nackSub: { unSubscribe(): void } | undefined;

  constructor(
    private readonly sender: RTCRtpSender | undefined,
    private readonly enabled: boolean,
  ) {
    this.nackSub = enabled
      ? sender?.onGenericNack.subscribe((feedback) => {
          this.nacked += feedback.lost.length;
        })
      : undefined;
  }

  /** The layer this viewer should get, of those the capture sends now (0 without simulcast). */
  decide(activeLayers: number): number {
    if (!this.enabled || !this.sender || activeLayers <= 1) return 0;
    // A capture with another number of layers (a new size, a restart): judged afresh.
    if (this.chooser.layers !== activeLayers) this.chooser = new LayerChooser(activeLayers);
    const stats = this.sender.collectStats(0) as unknown as Record<string, unknown>[];
    const outbound = stats.find((s) => s.type === 'outbound-rtp') ?? {};
    const remote = stats.find((s) => s.type === 'remote-inbound-rtp') ?? {};
    const sent = typeof outbound.packetsSent === 'number' ? outbound.packetsSent : this.sent;
    const lost = typeof remote.packetsLost === 'number' ? remote.packetsLost : this.lost;
    const rttMs = typeof remote.roundTripTime === 'number' ? remote.roundTripTime * 1000 : null;
    const window = {
      packetsSent: Math.max(0, sent - this.sent),
      packetsLost: Math.max(0, lost - this.lost, this.nacked),
      rttMs,
    };
    this.sent = sent;
    this.lost = lost;
    this.nacked = 0;
    return this.chooser.observe(window);
  }

  stop(): void {
    this.nackSub?.unSubscribe();
  }
}
