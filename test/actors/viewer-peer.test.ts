import { describe, expect, it } from 'vitest';
import { negotiateViewer } from '../../src/actors/viewer-peer.js';
import { chooseCodec } from '../../src/media/sdp.js';
import { playerOffer } from '../helpers/werift-player.js';

describe('a viewer whose player offers audio before video', () => {
  it('gets its picture, keyframe requests and reports on the video sender, its sound on the audio one', async () => {
    const sdp = await playerOffer({ audioFirst: true });
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
