import { FORWARDED_AUDIO_PAYLOAD_TYPE } from './audio-fanout.js';
import type { Codec } from './codec.js';
import { FORWARDED_PAYLOAD_TYPE } from './rtp-fanout.js';

/** The file a codec's stream is kept in: WebM for VP8, Matroska for H.264 (Chromium plays both). */
export interface RecordingFormat {
  /** ffmpeg's muxer. */
  muxer: 'webm' | 'matroska';
  extension: 'webm' | 'mkv';
  mimeType: 'video/webm' | 'video/x-matroska';
}

export function recordingFormat(codec: Codec): RecordingFormat {
  return codec === 'VP8'
    ? { muxer: 'webm', extension: 'webm', mimeType: 'video/webm' }
    : { muxer: 'matroska', extension: 'mkv', mimeType: 'video/x-matroska' };
}

/**
 * The SDP that tells ffmpeg what arrives on `port` of loopback: the fan-out's RTP (its payload type is
 * normalised to `FORWARDED_PAYLOAD_TYPE`), 90 kHz video, H.264 in packetization mode 1 or VP8; and,
 * for a session with sound, the audio fan-out's Opus on `audioPort`.
 */
export function recordingSdp(codec: Codec, port: number, audioPort?: number): string {
  const pt = FORWARDED_PAYLOAD_TYPE;
  const media =
    codec === 'H264'
      ? [`a=rtpmap:${pt} H264/90000`, `a=fmtp:${pt} packetization-mode=1`]
      : [`a=rtpmap:${pt} VP8/90000`];
  return [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    's=castpool recording',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=video ${port} RTP/AVP ${pt}`,
    ...media,
    'a=recvonly',
    ...(audioPort
      ? [
          `m=audio ${audioPort} RTP/AVP ${FORWARDED_AUDIO_PAYLOAD_TYPE}`,
          `a=rtpmap:${FORWARDED_AUDIO_PAYLOAD_TYPE} opus/48000/2`,
          'a=recvonly',
        ]
      : []),
    '',
  ].join('\r\n');
}
