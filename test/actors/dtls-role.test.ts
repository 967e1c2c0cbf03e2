import { describe, expect, it } from 'vitest';
import { negotiateViewer } from '../../src/actors/viewer-peer.js';
import { chooseCodec } from '../../src/media/sdp.js';
import { playerOffer } from '../helpers/werift-player.js';

/** A player's offer (werift, receive-only H.264), its DTLS setup attribute rewritten to `setup`. */
async function offerWithSetup(setup: 'actpass' | 'active' | 'passive') {
  return (await playerOffer()).replace(/a=setup:\w+/g, `a=setup:${setup}`);
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
    expect(await answerTo(await offerWithSetup('actpass'))).toBe('passive');
    expect(await answerTo(await offerWithSetup('active'))).toBe('passive');
    expect(await answerTo(await offerWithSetup('passive'))).toBe('active');
  });
});
