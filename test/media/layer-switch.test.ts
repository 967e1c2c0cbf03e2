import { describe, expect, it } from 'vitest';
import { LayerSwitch } from '../../src/media/layer-switch.js';
import { RtpFanout } from '../../src/media/rtp-fanout.js';

/** An RTP packet of a layer: its SSRC, sequence number, timestamp, H.264 payload (0x67 starts a keyframe). */
function packet(ssrc: number, seq: number, ts: number, nal: number, marker = true): Buffer {
  const p = Buffer.alloc(14);
  p[0] = 0x80;
  p[1] = (marker ? 0x80 : 0) | 96;
  p.writeUInt16BE(seq, 2);
  p.writeUInt32BE(ts, 4);
  p.writeUInt32BE(ssrc, 8);
  p[12] = nal;
  return p;
}

describe('LayerSwitch', () => {
  it('moves a viewer to another layer at that layer’s keyframe, never cutting a frame, and back', () => {
    const fanout = new RtpFanout();
    const [full, half] = fanout.layers as [RtpFanout, RtpFanout];
    const got: string[] = [];
    const continued: number[] = [];
    const viewer = new LayerSwitch(
      fanout,
      'v',
      (p) => got.push(`${p.readUInt32BE(8)}:${p.readUInt16BE(2)}`),
      (p) => continued.push(p.readUInt16BE(2)),
    );
    viewer.join();
    full.forward(packet(1, 10, 0, 0x67)); // keyframe of the full picture: the viewer starts
    full.forward(packet(1, 11, 3000, 0x41));
    expect(viewer.want(1)).toBe(true);
    expect(viewer.want(1)).toBe(false); // already on its way
    half.forward(packet(2, 500, 100, 0x41)); // not a keyframe: the viewer stays on the full picture
    full.forward(packet(1, 12, 6000, 0x41));
    half.forward(packet(2, 501, 3100, 0x67)); // the half picture's keyframe: move
    full.forward(packet(1, 13, 9000, 0x41)); // no longer this viewer's
    half.forward(packet(2, 502, 6100, 0x41));
    expect(got).toEqual(['1:10', '1:11', '1:12', '2:501', '2:502']);
    expect(continued).toEqual([501]);
    expect([viewer.current, viewer.pending, viewer.switches]).toEqual([1, -1, 1]);
    expect([full.size, half.size]).toEqual([0, 1]);

    // Changing its mind before the keyframe came: nothing moves.
    viewer.want(0);
    viewer.want(1);
    full.forward(packet(1, 14, 12000, 0x67));
    expect(got.at(-1)).toBe('2:502');
    expect([full.size, half.size, viewer.current]).toEqual([0, 1, 1]);
    viewer.leave();
    expect([full.size, half.size]).toEqual([0, 0]);
  });

  it('clamps a wanted layer to those the fan-out has', () => {
    const fanout = new RtpFanout(1);
    const viewer = new LayerSwitch(
      fanout,
      'v',
      () => {},
      () => {},
    );
    viewer.join();
    expect(viewer.want(5)).toBe(true);
    expect(viewer.pending).toBe(1);
  });
});
