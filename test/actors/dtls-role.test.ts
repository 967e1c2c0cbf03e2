import { describe, expect, it } from 'vitest';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { negotiateViewer } from '../../src/actors/viewer-peer.js';
import { chooseCodec, H264_BASELINE_FMTP } from '../../src/media/sdp.js';

/** A player's offer (werift, receive-only H.264), its DTLS setup attribute rewritten to `setup`. */
async function playerOffer(setup: 'actpass' | 'active' | 'passive') {
  const player = new RTCPeerConnection({
    iceServers: [],
    codecs: {
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/H264',
          clockRate: 90000,
          parameters: H264_BASELINE_FMTP,
        }),
      ],
      audio: [],
    },
  });
  player.addTransceiver('video', { direction: 'recvonly' });
  await player.setLocalDescription(await player.createOffer());
  const sdp = (player.localDescription?.sdp ?? '').replace(/a=setup:\w+/g, `a=setup:${setup}`);
  await player.close();
  return sdp;
}

const answerTo = async (sdp: string) => {
  const viewer = await negotiateViewer(
    { viewerId: 'v', codec: 'H264', sdp, offered: chooseCodec(sdp), scope: 'view' },
    { udpPortMin: 0, udpPortMax: 0, iceTcp: false, maxPlayoutDelayMs: 0 },
  );
  await viewer.pc.close();
  return /^a=setup:(\w+)/m.exec(viewer.answer)?.[1];
};

describe('the DTLS role of castpool’s answers', () => {
  it('is the server (passive) when the player lets castpool choose or asks for it, the client only when the player insists on serving', async () => {
    // werift's DTLS client fails on a repeated HelloVerifyRequest; players' clients handle it.
    expect(await answerTo(await playerOffer('actpass'))).toBe('passive');
    expect(await answerTo(await playerOffer('active'))).toBe('passive');
    expect(await answerTo(await playerOffer('passive'))).toBe('active');
  });
});
