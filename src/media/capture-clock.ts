const TWO_POW_32 = 2 ** 32;

/** NTP seconds (fractional) as RTCP's 64-bit NTP timestamp (32.32 fixed point). */
export function ntpFromSeconds(seconds: number): bigint {
  const whole = Math.floor(seconds);
  const fraction = Math.min(TWO_POW_32 - 1, Math.floor((seconds - whole) * TWO_POW_32));
  return (BigInt(whole) << 32n) | BigInt(fraction);
}

/** RTCP's 64-bit NTP timestamp as NTP seconds (fractional; a double keeps about half a microsecond). */
export function secondsFromNtp(ntp: bigint): number {
  return Number(ntp >> 32n) + Number(ntp & 0xffffffffn) / TWO_POW_32;
}

/**
 * When what an outgoing RTP timestamp stamps was captured, on the capturing browser's NTP clock: the
 * mapping its latest sender report gives, moved into the outgoing stream's timestamps. Players line
 * picture and sound up by these mappings (one per stream, both on the same clock), so viewers' sender
 * reports carry them rather than the time castpool forwarded a packet: a tab's frames reach castpool
 * later after capture than its sound does. Forgotten when the source changes, until its first report.
 */
export class CaptureClock {
  private ntpSeconds = 0;
  private rtp = 0;
  /** Whether a report of the current source has been seen. */
  known = false;

  /** @param ticksPerSecond the codec's RTP clock (90 000 for video, 48 000 for Opus). */
  constructor(private readonly ticksPerSecond: number) {}

  /** The current source's sender report, its RTP time already in the outgoing stream's terms. */
  note(ntp: bigint, outgoingRtp: number): void {
    this.ntpSeconds = secondsFromNtp(ntp);
    this.rtp = outgoingRtp >>> 0;
    this.known = true;
  }

  forget(): void {
    this.known = false;
  }

  /** NTP seconds at which the media stamped `outgoingRtp` was captured (meaningful once `known`). */
  secondsAt(outgoingRtp: number): number {
    return this.ntpSeconds + ((outgoingRtp - this.rtp) | 0) / this.ticksPerSecond;
  }
}
