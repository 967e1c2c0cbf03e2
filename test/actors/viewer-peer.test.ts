import { describe, expect, it } from 'vitest';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { negotiateViewer } from '../../src/actors/viewer-peer.js';
import { opusCodec } from '../../src/media/audio-fanout.js';
import { chooseCodec, H264_BASELINE_FMTP } from '../../src/media/sdp.js';

/** A player's offer with its audio section first, as most WHEP players make it. */
async function audioFirstOffer(): Promise<string> {
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
      audio: [opusCodec()],
    },
  });
  player.addTransceiver('audio', { direction: 'recvonly' });
  player.addTransceiver('video', { direction: 'recvonly' });
  await player.setLocalDescription(await player.createOffer());
  const sdp = player.localDescription?.sdp ?? '';
  await player.close();
  return sdp;
}

describe('a viewer whose player offers audio before video', () => {
  it('gets its picture, keyframe requests and reports on the video sender, its sound on the audio one', async () => {
    const sdp = await audioFirstOffer();
    expect(sdp.indexOf('m=audio')).toBeLessThan(sdp.indexOf('m=video'));
    const offer = {
      viewerId: 'v',
      codec: 'H264' as const,
      sdp,
      offered: chooseCodec(sdp),
      scope: 'view' as const,
    };
    const peer = await negotiateViewer(
      offer,
      { udpPortMin: 0, udpPortMax: 0, iceTcp: false, maxPlayoutDelayMs: 0 },
      true,
    );
    try {
      // The first transceiver is the audio one: what castpool listens to for PLI must not be it.
      expect(peer.pc.getTransceivers()[0]?.kind).toBe('audio');
      expect(peer.videoSender?.track).toBe(peer.track);
      expect(peer.videoSender?.track?.kind).toBe('video');
      expect(peer.audioSender?.track).toBe(peer.audioTrack);
      expect(peer.audioSender?.track?.kind).toBe('audio');
    } finally {
      await peer.close();
    }
  });
});
