import { describe, expect, it } from 'vitest';
import { AudioFanout, FORWARDED_AUDIO_PAYLOAD_TYPE } from '../../src/media/audio-fanout.js';
import { startsKeyframe } from '../../src/media/keyframe.js';
import { LatestFrameSlot } from '../../src/media/latest-frame-slot.js';
import { RtpFanout } from '../../src/media/rtp-fanout.js';
import {
  assertVideoOffer,
  chooseCodec,
  offeredCodecs,
  parseTrickleFragment,
  restrictVideoToPayloadType,
  rtxPayloadTypeOf,
} from '../../src/media/sdp.js';

/** An RTP packet: 12-byte header (marker bit as asked) and the given payload bytes. */
function rtp(payload: number[], marker = false): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = (marker ? 0x80 : 0) | 96;
  return Buffer.concat([header, Buffer.from(payload)]);
}

const offer = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 45',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:abcd',
  'a=ice-pwd:0123456789012345678901',
  'a=fingerprint:sha-256 00:11',
  'a=mid:0',
  'a=recvonly',
  'a=rtpmap:96 VP8/90000',
  'a=rtcp-fb:96 nack',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rtpmap:102 H264/90000',
  'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f',
  'a=rtpmap:103 H264/90000',
  'a=fmtp:103 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=rtcp-fb:103 nack pli',
  'a=rtpmap:45 AV1/90000',
  '',
].join('\r\n');

describe('latest-frame slot', () => {
  it('keeps only the newest frame and counts the replaced ones', () => {
    const slot = new LatestFrameSlot<number>();
    slot.put(1);
    slot.put(2);
    slot.put(3);
    expect(slot.take()).toBe(3);
    expect(slot.take()).toBeUndefined();
    expect(slot.replaced).toBe(2);
    slot.put(4);
    expect(slot.replaced).toBe(2); // taking empties the slot: no drop
  });
});

describe('keyframe detection', () => {
  it('finds H.264 SPS, IDR, STAP-A and FU-A starts', () => {
    expect(startsKeyframe('H264', rtp([0x67, 0x42]))).toBe(true); // SPS
    expect(startsKeyframe('H264', rtp([0x65]))).toBe(true); // IDR
    expect(startsKeyframe('H264', rtp([0x41]))).toBe(false); // non-IDR slice
    expect(startsKeyframe('H264', rtp([0x78, 0x00, 0x02, 0x67, 0x42]))).toBe(true); // STAP-A with SPS
    expect(startsKeyframe('H264', rtp([0x7c, 0x85]))).toBe(true); // FU-A start of IDR
    expect(startsKeyframe('H264', rtp([0x7c, 0x05]))).toBe(false); // FU-A continuation
  });

  it('finds VP8 key frames, with and without the extended descriptor', () => {
    expect(startsKeyframe('VP8', rtp([0x10, 0x00]))).toBe(true);
    expect(startsKeyframe('VP8', rtp([0x10, 0x01]))).toBe(false); // inter frame
    expect(startsKeyframe('VP8', rtp([0x00, 0x00]))).toBe(false); // not a partition start
    expect(startsKeyframe('VP8', rtp([0x90, 0x80, 0x81, 0x23, 0x00]))).toBe(true); // X, 15-bit PictureID
  });
});

describe('RTP fan-out', () => {
  it('holds a new viewer until a keyframe starts, then forwards everything', () => {
    const fanout = new RtpFanout();
    const early: Buffer[] = [];
    const late: Buffer[] = [];
    fanout.add('early', (p) => early.push(p));
    fanout.forward(rtp([0x41], true));
    expect(early).toHaveLength(0);
    fanout.forward(rtp([0x67]));
    fanout.forward(rtp([0x65], true));
    fanout.add('late', (p) => late.push(p));
    fanout.forward(rtp([0x41], true));
    expect(early).toHaveLength(3);
    expect(late).toHaveLength(0);
    expect(fanout.waitingViewers).toBe(1);
    expect([fanout.isWaiting('early'), fanout.isWaiting('late'), fanout.isWaiting('nobody')]).toEqual([
      false,
      true,
      false,
    ]);
    fanout.forward(rtp([0x67]));
    expect(late).toHaveLength(1);
    expect(fanout.isWaiting('late')).toBe(false);
    expect(fanout.framesOut).toBe(3);
    fanout.remove('late');
    fanout.remove('early');
    expect(fanout.size).toBe(0);
  });
});

describe('RTP fan-out across a source change', () => {
  const packet = (ssrc: number, seq: number, ts: number, payload: number[], marker = false) => {
    const p = rtp(payload, marker);
    p.writeUInt16BE(seq, 2);
    p.writeUInt32BE(ts, 4);
    p.writeUInt32BE(ssrc, 8);
    return p;
  };

  it('continues sequence numbers and timestamps, waits for a keyframe and drops the old tail', () => {
    const fanout = new RtpFanout();
    const out: Buffer[] = [];
    fanout.add('v', (p) => out.push(Buffer.from(p)));
    fanout.forward(packet(1, 100, 9000, [0x67], true));
    fanout.forward(packet(1, 101, 12000, [0x41], true));
    fanout.forward(packet(2, 5000, 777, [0x41], true)); // new source, not a keyframe: held back
    fanout.forward(packet(1, 102, 15000, [0x41], true)); // old tail: dropped
    fanout.forward(packet(2, 5001, 3777, [0x67], true)); // keyframe of the new source
    expect(out.map((p) => p.readUInt16BE(2))).toEqual([100, 101, 103]);
    expect(out.every((p) => p.readUInt32BE(4) >= 9000)).toBe(true);
    expect(out[2]!.readUInt32BE(4)).toBeGreaterThan(12000);
  });

  it('sends a frame stamped like (or within 1 ms of) the one before it 1 ms after that, its packets alike, and normalises the payload type', () => {
    const fanout = new RtpFanout();
    const out: Buffer[] = [];
    fanout.add('v', (p) => out.push(Buffer.from(p)));
    const sent = [
      packet(1, 1, 9000, [0x67], true), // a keyframe at 9000
      packet(1, 2, 9000, [0x7c, 0x81]), // the same time again, in two packets (a re-encoded frame)
      packet(1, 3, 9000, [0x7c, 0x41], true),
      packet(1, 4, 9000, [0x41], true), // and a third time
      packet(1, 5, 9100, [0x41], true), // 1.1 ms later as stamped, but only 2/9 ms after the last as sent
      packet(1, 5, 12000, [0x41], true), // the next frame, as it is
      packet(1, 6, 9000, [0x41], true), // a late packet of an older frame: left alone
    ];
    for (const p of sent) {
      p[1] = (p[1]! & 0x80) | 111;
      fanout.forward(p);
    }
    expect(out.map((p) => p.readUInt32BE(4))).toEqual([9000, 9090, 9090, 9180, 9270, 12000, 9000]);
    expect(out.every((p) => (p[1]! & 0x7f) === 96)).toBe(true);
    expect(out.map((p) => p[1]! >> 7)).toEqual([1, 0, 1, 1, 1, 1, 1]);
  });
});

describe('audio fan-out', () => {
  const packet = (ssrc: number, seq: number, ts: number) => {
    const p = rtp([0xfc, 0xff]);
    p[1] = 109;
    p.writeUInt16BE(seq, 2);
    p.writeUInt32BE(ts, 4);
    p.writeUInt32BE(ssrc, 8);
    return p;
  };

  it('sends every packet to every listener at once (no keyframe wait), one stream across sources', () => {
    const audio = new AudioFanout();
    const heard: Record<string, Buffer[]> = { a: [], b: [] };
    audio.add('a', (p) => heard.a?.push(Buffer.from(p)));
    audio.forward(packet(7, 10, 48_000));
    audio.add('b', (p) => heard.b?.push(Buffer.from(p)));
    audio.forward(packet(7, 11, 48_960));
    audio.forward(packet(8, 900, 5)); // the capture re-established: a new source
    audio.forward(packet(7, 12, 49_920)); // the old one's tail: dropped
    audio.remove('a');
    audio.forward(packet(8, 901, 965));
    expect(heard.a?.map((p) => p.readUInt16BE(2))).toEqual([10, 11, 12]);
    expect(heard.b?.map((p) => p.readUInt16BE(2))).toEqual([11, 12, 13]);
    // The new source's time goes on from the old one's (48 kHz), its steps kept.
    const times = heard.b?.map((p) => p.readUInt32BE(4)) ?? [];
    expect(times[1]).toBeGreaterThan(48_960);
    expect((times[2] ?? 0) - (times[1] ?? 0)).toBe(960);
    expect(heard.b?.every((p) => (p[1]! & 0x7f) === FORWARDED_AUDIO_PAYLOAD_TYPE)).toBe(true);
    expect(audio.packetsOut).toBe(4);
  });
});

describe('SDP negotiation', () => {
  it('prefers H.264 packetization-mode 1 and falls back to VP8', () => {
    expect(chooseCodec(offer)).toMatchObject({ codec: 'H264', payloadType: 103 });
    expect(chooseCodec(offer, 'VP8')).toMatchObject({ codec: 'VP8', payloadType: 96 });
    const vp8Only = offer.replace(/^a=(rtpmap|fmtp|rtcp-fb):10[23] .*\r\n/gm, '');
    expect(offeredCodecs(vp8Only).map((c) => c.codec)).toEqual(['VP8']);
  });

  it('answers 406 when nothing usable is offered', () => {
    const av1Only = offer.replace(/^a=(rtpmap|fmtp|rtcp-fb):(96|97|102|103) .*\r\n/gm, '');
    expect(() => chooseCodec(av1Only)).toThrow(/H264 packetization-mode=1 or VP8/);
    const vp8Only = offer.replace(/^a=(rtpmap|fmtp|rtcp-fb):10[23] .*\r\n/gm, '');
    expect(() => chooseCodec(vp8Only, 'H264')).toThrow(/encoding H264/);
  });

  it('keeps only the chosen payload type in the video section', () => {
    const restricted = restrictVideoToPayloadType(offer, 103);
    expect(restricted).toMatch(/^m=video 9 UDP\/TLS\/RTP\/SAVPF 103$/m);
    expect(restricted).not.toMatch(/a=rtpmap:(96|97|102|45) /);
    expect(restricted).toMatch(/a=fmtp:103 .*packetization-mode=1/);
    expect(restricted).toContain('a=ice-ufrag:abcd');
  });

  it('keeps the chosen payload type’s RTX beside it, and finds none where there is none', () => {
    const restricted = restrictVideoToPayloadType(offer, 96);
    expect(restricted).toMatch(/^m=video 9 UDP\/TLS\/RTP\/SAVPF 96 97$/m);
    expect(restricted).toMatch(/^a=fmtp:97 apt=96/m);
    expect(restricted).not.toMatch(/a=rtpmap:(102|103|45) /);
    expect(rtxPayloadTypeOf(offer, 96)).toBe(97);
    expect(rtxPayloadTypeOf(offer, 103)).toBeUndefined();
  });

  it('rejects what is not an SDP offer with video', () => {
    expect(() => assertVideoOffer('hello')).toThrow(/v=0/);
    expect(() => assertVideoOffer(offer.replace(/m=video.*\r\n/, ''))).toThrow(/no video/);
    expect(() => assertVideoOffer(offer.replace(/a=fingerprint.*\r\n/, ''))).toThrow(/fingerprint/);
    expect(() => assertVideoOffer(offer)).not.toThrow();
  });

  it('reads trickled candidates with their media line', () => {
    const fragment =
      'a=ice-ufrag:abcd\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 1 192.0.2.1 5000 typ host\r\n';
    expect(parseTrickleFragment(fragment)).toEqual([
      { candidate: 'candidate:1 1 udp 1 192.0.2.1 5000 typ host', sdpMLineIndex: 0, sdpMid: '0' },
    ]);
  });
});
