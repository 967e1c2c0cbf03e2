import { H264_BASELINE_FMTP } from '../src/media/sdp.js';
import { RTCPeerConnection, RTCRtpCodecParameters } from './werift-client.js';

/**
 * A light WHEP viewer for density runs: a werift peer that receives and counts frames without
 * decoding, so many sessions can be watched without a browser per viewer eating the cores.
 */
export async function watchWithWerift(
  whepUrl: string,
  accepts: readonly ('H264' | 'VP8')[] = ['H264', 'VP8'],
  /** Sent with the WHEP requests (a bearer token where castpool has tokens). */
  headers: Record<string, string> = {},
) {
  const feedback = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }];
  const pc = new RTCPeerConnection({
    iceServers: [],
    codecs: {
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90000,
          rtcpFeedback: feedback,
          parameters: H264_BASELINE_FMTP,
        }),
        new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, rtcpFeedback: feedback }),
      ].filter((codec) => accepts.includes(codec.mimeType.slice('video/'.length) as 'H264' | 'VP8')),
      audio: [],
    },
    headerExtensions: { video: [], audio: [] },
  });
  const counts = { frames: 0, bytes: 0 };
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.onTrack.subscribe((track) => {
    track.onReceiveRtp.subscribe((rtp) => {
      counts.bytes += rtp.payload.length + 12;
      if (rtp.header.marker) counts.frames++;
    });
  });
  const startedAt = performance.now();
  /** From the offer's POST to the peer connection's `connected` (null until then). */
  let connectMs: number | null = null;
  pc.connectionStateChange.subscribe((state) => {
    if (state === 'connected' && connectMs === null) connectMs = performance.now() - startedAt;
  });
  await pc.setLocalDescription(await pc.createOffer());
  const response = await fetch(whepUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp', ...headers },
    body: pc.localDescription?.sdp,
  });
  if (response.status !== 201) throw new Error(`WHEP answered ${response.status}: ${await response.text()}`);
  await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
  const resource = new URL(response.headers.get('location') ?? '', whepUrl).href;
  // A WHEP client says goodbye: the session stops streaming at once, not after an ICE timeout.
  const close = async () => {
    await fetch(resource, { method: 'DELETE', headers }).catch(() => {});
    await pc.close();
  };
  return { counts, close, state: () => pc.connectionState, connectMs: () => connectMs };
}
