import { RtpPacket } from 'werift';

/**
 * The playout-delay RTP header extension (webrtc.org): the sender tells the player how long it may
 * hold frames before showing them. Chromium offers it in every offer.
 *
 * Why castpool sends it: on a still page Chromium's tab capture sends about one frame a second, and a
 * Chromium player left to its own jitter buffer then often showed a change only when the next frame
 * came: 240–1,000 ms after the change's packets had arrived (measured, headless and headed). With
 * "at most 100 ms" every change was shown 16–49 ms after it was drawn. A maximum of 0 is worse (every
 * change held about a second, measured): Chromium reads 0/0 as "no render time".
 */
export const PLAYOUT_DELAY_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';

/** The extension's 3 bytes: 12-bit minimum and maximum, in 10 ms units (the maximum rounded up). */
export function playoutDelayPayload(minMs: number, maxMs: number): Buffer {
  const min = Math.min(0xfff, Math.max(0, Math.round(minMs / 10)));
  const max = Math.min(0xfff, Math.max(min, Math.ceil(maxMs / 10)));
  return Buffer.from([min >> 4, ((min & 0x0f) << 4) | (max >> 8), max & 0xff]);
}

/**
 * A viewer's picture writer that stamps each packet with the playout delay (extension `id`, as the
 * player numbered it). Hot path: the packet is parsed once here instead of in werift's writer, and
 * one small array is the only allocation added.
 */
export function stampingPlayoutDelay(
  write: (packet: RtpPacket) => void,
  id: number,
  payload: Buffer,
): (packet: Buffer) => void {
  return (bytes) => {
    const packet = RtpPacket.deSerialize(bytes);
    packet.header.extension = true;
    packet.header.extensions = [{ id, payload }];
    write(packet);
  };
}
