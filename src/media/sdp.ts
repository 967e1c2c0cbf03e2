import { CastpoolError } from '../errors.js';
import type { Codec } from './codec.js';

export interface OfferedCodec {
  codec: Codec;
  payloadType: number;
  /** The viewer's fmtp line for this payload type ('' when none). */
  fmtp: string;
}

const MAX_SDP_BYTES = 64 * 1024;

/** H.264 constrained baseline, level 3.1, packetization mode 1: what every WebRTC player decodes. */
export const H264_BASELINE_FMTP = 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f';

/** Rejects what is not an SDP offer with a receivable video section. */
export function assertVideoOffer(sdp: string): void {
  if (sdp.length > MAX_SDP_BYTES) throw new CastpoolError('bad_request', 'SDP offer is larger than 64 KiB');
  if (!/^v=0\r?\n/.test(sdp))
    throw new CastpoolError('bad_request', 'malformed SDP: it must start with "v=0"');
  if (!/^o=.+$/m.test(sdp) || !/^s=.*$/m.test(sdp))
    throw new CastpoolError('bad_request', 'malformed SDP: missing o= or s= line');
  if (!/^m=video \d+ [A-Z/]+ [\d ]+\r?$/m.test(sdp))
    throw new CastpoolError('bad_request', 'SDP offer has no video media section');
  if (!/^a=ice-ufrag:/m.test(sdp) || !/^a=fingerprint:/m.test(sdp))
    throw new CastpoolError('bad_request', 'SDP offer lacks ICE credentials or a DTLS fingerprint');
}

/** The video codecs a WHEP offer can receive, in the order castpool prefers them. */
export function offeredCodecs(sdp: string): OfferedCodec[] {
  const section = videoSection(sdp);
  const fmtps = new Map<number, string>();
  for (const m of section.matchAll(/^a=fmtp:(\d+) (.+?)\r?$/gm)) fmtps.set(Number(m[1]), m[2] ?? '');
  const found: (OfferedCodec & { rank: number })[] = [];
  for (const m of section.matchAll(/^a=rtpmap:(\d+) ([A-Za-z0-9-]+)\/90000\r?$/gm)) {
    const payloadType = Number(m[1]);
    const name = (m[2] ?? '').toUpperCase();
    const fmtp = fmtps.get(payloadType) ?? '';
    if (name === 'H264' && /packetization-mode=1/.test(fmtp)) {
      const profile = /profile-level-id=([0-9a-fA-F]{6})/.exec(fmtp)?.[1]?.toLowerCase() ?? '';
      // x264 baseline output fits constrained baseline; other profiles decode it too.
      const rank = profile.startsWith('42e0') ? 0 : profile.startsWith('4200') ? 1 : 2;
      found.push({ codec: 'H264', payloadType, fmtp, rank });
    } else if (name === 'VP8') {
      found.push({ codec: 'VP8', payloadType, fmtp, rank: 10 });
    }
  }
  return found.sort((a, b) => a.rank - b.rank).map(({ rank: _rank, ...codec }) => codec);
}

/** Picks the codec for a viewer: `required` when the session already encodes, else H.264 over VP8. */
export function chooseCodec(sdp: string, required?: Codec): OfferedCodec {
  const offered = offeredCodecs(sdp);
  if (offered.length === 0)
    throw new CastpoolError(
      'not_acceptable',
      'the offer has no codec castpool sends (H264 packetization-mode=1 or VP8)',
    );
  const pick = required ? offered.find((c) => c.codec === required) : offered[0];
  if (!pick)
    throw new CastpoolError(
      'not_acceptable',
      `this session is encoding ${required} and the offer does not accept it (offered: ${offered.map((c) => c.codec).join(', ')})`,
    );
  return pick;
}

function videoSection(sdp: string): string {
  const start = sdp.search(/^m=video /m);
  if (start < 0) return '';
  const rest = sdp.slice(start);
  const next = rest.slice(1).search(/^m=/m);
  return next < 0 ? rest : rest.slice(0, next + 1);
}

/**
 * Keeps only `payloadType` in the video section, so the answer carries exactly one payload type
 * (werift matches codecs by MIME type only and could otherwise pick an incompatible H.264 variant).
 */
export function restrictVideoToPayloadType(sdp: string, payloadType: number): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(/\r?\n/);
  // Its retransmission payload type (RTX, `apt=` it) stays too: repairs then come on a stream of their own.
  const rtx = rtxPayloadTypeOf(sdp, payloadType);
  const kept = rtx === undefined ? [payloadType] : [payloadType, rtx];
  let inVideo = false;
  const out: string[] = [];
  for (const line of lines) {
    if (line.startsWith('m=')) {
      inVideo = line.startsWith('m=video ');
      if (inVideo) {
        const parts = line.split(' ');
        out.push([...parts.slice(0, 3), ...kept.map(String)].join(' '));
        continue;
      }
    }
    if (inVideo) {
      const pt = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+) /.exec(line)?.[1];
      if (pt !== undefined && !kept.includes(Number(pt))) continue;
    }
    out.push(line);
  }
  return out.join(eol);
}

/** The RTX payload type an offer pairs with `payloadType` (`a=rtpmap:N rtx/90000` + `a=fmtp:N apt=PT`). */
export function rtxPayloadTypeOf(sdp: string, payloadType: number): number | undefined {
  for (const match of sdp.matchAll(/^a=rtpmap:(\d+) rtx\/90000/gim)) {
    const pt = Number(match[1]);
    if (new RegExp(`^a=fmtp:${pt} apt=${payloadType}\\s*$`, 'm').test(sdp)) return pt;
  }
  return undefined;
}

/** ICE candidates ("a=candidate:" lines) of a trickle-ice-sdpfrag body, with their m-line index. */
export function parseTrickleFragment(
  fragment: string,
): { candidate: string; sdpMLineIndex: number; sdpMid?: string }[] {
  const out: { candidate: string; sdpMLineIndex: number; sdpMid?: string }[] = [];
  let index = -1;
  let mid: string | undefined;
  for (const line of fragment.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      index++;
      mid = undefined;
    } else if (line.startsWith('a=mid:')) mid = line.slice(6).trim();
    else if (line.startsWith('a=candidate:'))
      out.push({ candidate: line.slice(2).trim(), sdpMLineIndex: Math.max(index, 0), sdpMid: mid });
  }
  return out;
}

/** The ice-ufrag of an SDP or sdpfrag, if any. */
export function iceUfrag(sdp: string): string | undefined {
  return /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
}
