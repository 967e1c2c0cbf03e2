import type { Codec } from './codec.js';

/** RTP header length (fixed part, CSRCs and extension), or -1 when the packet is malformed. */
export function rtpHeaderLength(packet: Buffer): number {
  if (packet.length < 12) return -1;
  const csrcCount = packet[0]! & 0x0f;
  let offset = 12 + csrcCount * 4;
  if (packet[0]! & 0x10) {
    if (packet.length < offset + 4) return -1;
    offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  }
  return offset <= packet.length ? offset : -1;
}

/** True when this RTP packet starts a keyframe (an H.264 SPS/IDR or a VP8 key frame start). */
export function startsKeyframe(codec: Codec, packet: Buffer): boolean {
  const at = rtpHeaderLength(packet);
  if (at < 0 || at >= packet.length) return false;
  return codec === 'H264' ? h264StartsKeyframe(packet, at) : vp8StartsKeyframe(packet, at);
}

function h264StartsKeyframe(p: Buffer, at: number): boolean {
  const nalType = p[at]! & 0x1f;
  if (nalType === 7 || nalType === 5) return true;
  if (nalType === 24) {
    // STAP-A: 16-bit sizes, each followed by a NAL unit.
    let i = at + 1;
    while (i + 2 < p.length) {
      const size = p.readUInt16BE(i);
      const inner = p[i + 2]! & 0x1f;
      if (inner === 7 || inner === 5) return true;
      i += 2 + size;
    }
    return false;
  }
  if (nalType === 28 && at + 1 < p.length) {
    const fuHeader = p[at + 1]!;
    const start = (fuHeader & 0x80) !== 0;
    const inner = fuHeader & 0x1f;
    return start && (inner === 5 || inner === 7);
  }
  return false;
}

function vp8StartsKeyframe(p: Buffer, at: number): boolean {
  const first = p[at]!;
  const start = (first & 0x10) !== 0;
  const partition = first & 0x07;
  if (!start || partition !== 0) return false;
  let i = at + 1;
  if (first & 0x80) {
    const ext = p[i++];
    if (ext === undefined) return false;
    if (ext & 0x80) i += (p[i] ?? 0) & 0x80 ? 2 : 1; // PictureID, 7 or 15 bits
    if (ext & 0x40) i++; // TL0PICIDX
    if (ext & 0x30) i++; // TID/KEYIDX
  }
  const header = p[i];
  return header !== undefined && (header & 0x01) === 0; // P bit 0 = key frame
}
