import { describe, expect, it } from 'vitest';
import { RtpRetimer } from '../../src/media/rtp-retimer.js';

/** A 12-byte RTP header with a timestamp and, for a frame's last packet, the marker bit. */
const packet = (ts: number, last: boolean) => {
  const p = Buffer.alloc(20);
  p[0] = 0x80;
  p[1] = (last ? 0x80 : 0) | 96;
  p.writeUInt32BE(ts, 4);
  return p;
};

describe('RtpRetimer', () => {
  it('gives frames that share an encoder timestamp their own arrival times, and a frame one timestamp', () => {
    const retimer = new RtpRetimer();
    // Three frames all stamped 3600 by the encoder (its 1/25 s time base), 33 ms apart.
    const frames = [0, 33, 66].map((at) => {
      const parts = [packet(3600, false), packet(3600, false), packet(3600, true)];
      for (const part of parts) retimer.retime(part, 1000 + at);
      return parts.map((part) => part.readUInt32BE(4));
    });
    for (const parts of frames) expect(new Set(parts).size).toBe(1);
    expect(frames.map((parts) => parts[0])).toEqual([90_000, 92_970, 95_940]);
  });

  it('keeps timestamps increasing for frames closer than its clock tells apart, across the 32-bit wrap', () => {
    const retimer = new RtpRetimer();
    const first = packet(0, true);
    const second = packet(0, true);
    retimer.retime(first, 5);
    retimer.retime(second, 5);
    expect(second.readUInt32BE(4)).toBe(first.readUInt32BE(4) + 1);
    const wrapping = new RtpRetimer();
    const nearWrap = (2 ** 32 - 1) / 90;
    const a = packet(0, true);
    const b = packet(0, true);
    wrapping.retime(a, nearWrap);
    wrapping.retime(b, nearWrap + 1);
    expect(a.readUInt32BE(4)).toBe(2 ** 32 - 1);
    expect(b.readUInt32BE(4)).toBe(89);
  });
});
