import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { negotiateViewer } from '../../src/actors/viewer-peer.js';
import { iceServerLinks, iceServersFor } from '../../src/media/ice-servers.js';
import { chooseCodec } from '../../src/media/sdp.js';
import { playerOffer } from '../helpers/werift-player.js';

const turn = { urls: ['turn:198.18.2.2:3478?transport=udp'], secret: 's3cret', ttlSeconds: 600 };

describe('ICE servers for viewers', () => {
  it('mints TURN credentials per viewer that the shared secret verifies, and they expire', () => {
    const now = Date.UTC(2026, 0, 1);
    const [fixed, minted] = iceServersFor(
      { iceServers: [{ urls: ['stun:198.18.2.2:3478'] }], turn },
      'viewer-1',
      now,
    );
    expect(fixed).toEqual({ urls: ['stun:198.18.2.2:3478'] });
    expect(minted?.username).toBe(`${now / 1000 + 600}:viewer-1`);
    // What coturn's use-auth-secret computes from the username it is given.
    const expected = createHmac('sha1', 's3cret')
      .update(minted?.username ?? '')
      .digest('base64');
    expect(minted?.credential).toBe(expected);
    expect(iceServersFor({ iceServers: [], turn }, 'viewer-2', now)[0]?.credential).not.toBe(expected);
    // No secret: the TURN URLs are not handed out without credentials.
    expect(iceServersFor({ iceServers: [], turn: { ...turn, secret: '' } }, 'v', now)).toEqual([]);
  });

  it('writes WHEP Link headers, credentials quoted', () => {
    expect(
      iceServerLinks([
        { urls: ['stun:a.example:3478'] },
        {
          urls: ['turn:b.example:3478?transport=udp', 'turns:b.example:5349'],
          username: '1:v',
          credential: 'x"y',
        },
      ]),
    ).toEqual([
      '<stun:a.example:3478>; rel="ice-server"',
      '<turn:b.example:3478?transport=udp>; rel="ice-server"; username="1:v"; credential="x\\"y"; credential-type="password"',
      '<turns:b.example:5349>; rel="ice-server"; username="1:v"; credential="x\\"y"; credential-type="password"',
    ]);
  });
});

const candidates = (sdp: string) =>
  [...sdp.matchAll(/^a=candidate:\S+ \d+ (\w+) \d+ \S+ (\d+) typ host(?: tcptype (\w+))?/gm)].map((m) => ({
    transport: m[1]?.toLowerCase(),
    port: Number(m[2]),
    tcptype: m[3],
  }));

describe("castpool's end of a viewer's media", () => {
  it('listens in the configured UDP range, and on TCP too when iceTcp is on', async () => {
    const sdp = await playerOffer();
    const offer = {
      viewerId: 'v',
      codec: 'H264' as const,
      sdp,
      offered: chooseCodec(sdp),
      scope: 'view' as const,
    };
    const ranged = await negotiateViewer(offer, {
      udpPortMin: 47100,
      udpPortMax: 47140,
      iceTcp: false,
      maxPlayoutDelayMs: 0,
    });
    try {
      const udp = candidates(ranged.answer);
      expect(udp.length).toBeGreaterThan(0);
      for (const { transport, port } of udp) {
        expect(transport).toBe('udp');
        expect(port).toBeGreaterThanOrEqual(47100);
        expect(port).toBeLessThanOrEqual(47140);
      }
    } finally {
      await ranged.close();
    }
    const tcp = await negotiateViewer(offer, {
      udpPortMin: 47100,
      udpPortMax: 47140,
      iceTcp: true,
      maxPlayoutDelayMs: 0,
    });
    try {
      const passive = candidates(tcp.answer).filter((c) => c.transport === 'tcp' && c.tcptype === 'passive');
      expect(passive.length).toBeGreaterThan(0);
    } finally {
      await tcp.close();
    }
  });
});
