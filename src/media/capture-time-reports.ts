import type { RTCRtpSender } from 'werift';
import { type CaptureClock, ntpFromSeconds } from './capture-clock.js';

/** The werift sender fields its sender reports are made of (werift 0.24; checked by media tests). */
interface SenderReportFields {
  rtpTimestamp: number;
  timestampOffset: number;
}

/**
 * Makes a viewer's werift sender report, for the RTP time of its last packet, when that media was
 * captured (the session's `CaptureClock`), so the player can line its picture and sound up.
 *
 * werift stamps a report with the time it sent the last packet, and writes that time's fraction of a
 * second wrongly (the decimal digits as a binary fraction: 0.2158 s went out as 0.0005 s), so every
 * report was off by up to a second, differently for picture and sound: sound came 234 ms early in one
 * run and 184 ms late in another.
 *
 * Until the capture's first report (and after a source change) a report carries NTP time 0, which
 * players do not use to synchronise (WebRTC's `NtpTime::Valid`). Reporting the send time instead
 * would mislead them: it is later than the capture time by the pipeline's delay, differently for
 * picture and sound, and a player's estimator keeps early reports until several disagree (Chromium
 * sends sound's reports only every few seconds).
 *
 * werift reads `ntpTimestamp` only to build a report (and its round-trip bookkeeping, from the same
 * value, which stays consistent); it writes it per packet, which here costs nothing.
 */
export function reportCaptureTime(sender: RTCRtpSender, clock: () => CaptureClock | undefined): void {
  const fields = sender as unknown as SenderReportFields;
  let sentAny = false;
  Object.defineProperty(sender, 'ntpTimestamp', {
    configurable: true,
    enumerable: true,
    get(): bigint {
      if (!sentAny) return 0n;
      const capture = clock();
      if (!capture?.known) return 0n;
      // The sender adds its own offset (a layer switch continues its numbering): take it off again.
      return ntpFromSeconds(capture.secondsAt((fields.rtpTimestamp - fields.timestampOffset) >>> 0));
    },
    set(): void {
      sentAny = true;
    },
  });
}
