import { describe, expect, it } from 'vitest';
import { RtpHeader, RtpPacket } from 'werift';
import { negotiateViewer } from '../../src/actors/viewer-peer.js';
import { PLAYOUT_DELAY_URI, playoutDelayPayload } from '../../src/media/playout-delay.js';
import { chooseCodec } from '../../src/media/sdp.js';
import { weriftPlayer } from '../helpers/werift-player.js';

describe('the playout-delay payload', () => {
  it('packs minimum and maximum as 12-bit counts of 10 ms', () => {
    expect([...playoutDelayPayload(0, 100)]).toEqual([0x00, 0x00, 0x0a]);
    expect([...playoutDelayPayload(0, 0)]).toEqual([0x00, 0x00, 0x00]);
    expect([...playoutDelayPayload(100, 200)]).toEqual([0x00, 0xa0, 0x14]);
    expect([...playoutDelayPayload(0, 95)]).toEqual([0x00, 0x00, 0x0a]); // the maximum rounded up
    expect([...playoutDelayPayload(0, 10 ** 6)]).toEqual([0x00, 0x0f, 0xff]); // capped at 40.95 s
  });
});

/** A receive-only werift player that offers the playout-delay extension, as Chromium does. */
const player = () => weriftPlayer({ extensions: [PLAYOUT_DELAY_URI] });

/** What the player receives of a few packets castpool's viewer peer writes (max playout delay given). */
async function receivedExtensions(maxPlayoutDelayMs: number) {
  const viewer = await player();
  const peer = await negotiateViewer(
    {
      viewerId: 'v',
      codec: 'H264',
      sdp: viewer.offer,
      offered: chooseCodec(viewer.offer),
      scope: 'view',
    },
    { udpPortMin: 0, udpPortMax: 0, iceTcp: false, maxPlayoutDelayMs },
  );
  try {
    const received: { id: number; payload: number[] }[][] = [];
    viewer.transceiver.onTrack.subscribe((track) =>
      track.onReceiveRtp.subscribe((rtp) =>
        received.push(rtp.header.extensions.map((e) => ({ id: e.id, payload: [...e.payload] }))),
      ),
    );
    await viewer.pc.setRemoteDescription({ type: 'answer', sdp: peer.answer });
    const deadline = Date.now() + 10_000;
    for (let sequenceNumber = 1; received.length < 3 && Date.now() < deadline; sequenceNumber++) {
      const header = new RtpHeader({
        sequenceNumber,
        timestamp: sequenceNumber * 3000,
        marker: true,
        payloadType: 96,
      });
      // A single NAL unit (an IDR slice's header): the payload itself does not matter here.
      peer.writeVideo(new RtpPacket(header, Buffer.from([0x65, 0x88, 0x84, 0x00])).serialize());
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const id = Number(new RegExp(`^a=extmap:(\\d+) ${PLAYOUT_DELAY_URI}`, 'm').exec(peer.answer)?.[1]);
    return { answered: Number.isInteger(id), id, received };
  } finally {
    await peer.close();
    await viewer.pc.close();
  }
}

describe("a viewer's picture", () => {
  it('carries "show within 100 ms" to a player that offers the playout-delay extension, under its id', async () => {
    const { answered, id, received } = await receivedExtensions(100);
    expect(answered).toBe(true);
    expect(received.length).toBeGreaterThanOrEqual(3);
    for (const extensions of received) expect(extensions).toContainEqual({ id, payload: [0, 0, 10] });
  });

  it('carries no playout delay when it is configured off (0)', async () => {
    const { answered, received } = await receivedExtensions(0);
    expect(answered).toBe(false);
    expect(received.length).toBeGreaterThanOrEqual(3);
    for (const extensions of received) expect(extensions).toEqual([]);
  });
});
