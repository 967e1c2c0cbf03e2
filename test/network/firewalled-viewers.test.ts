import { describe, expect, it } from 'vitest';
import { labSession, startLabCastpool, useNetworkLab } from '../helpers/lab-fixture.js';
import { LAB, labAvailable } from '../helpers/network-lab.js';
import { openViewPage, until, type ViewerStats, viewerStats } from '../helpers/viewer.js';

// Viewers on networks that are not loopback: a viewer in a network namespace of its own whose firewall
// lets UDP reach only a TURN server (coturn, in a third namespace), or no UDP at all.
const TURN_SECRET = 'lab-turn-secret-not-for-production';

const fixture = useNetworkLab();

/** castpool's media on a fixed UDP range, with TURN and ICE-TCP as given. */
const startWithMedia = (turnUrls: string[], iceTcp: boolean) =>
  startLabCastpool({
    webrtc: {
      iceServers: [],
      turn: { urls: turnUrls, secret: turnUrls.length > 0 ? TURN_SECRET : '', ttlSeconds: 600 },
      udpPortMin: 47200,
      udpPortMax: 47260,
      iceTcp,
    },
  });

/** A session on castpool and its view page opened by the namespaced viewer; the view's stats once it plays. */
async function watchFromLab(castpool: Awaited<ReturnType<typeof startLabCastpool>>) {
  const { id, status, viewUrl } = await labSession(castpool, fixture.pages.url('/animated'));
  expect(status).toBe(201);
  const page = await openViewPage(fixture.viewerBrowser, await viewUrl());
  try {
    const playing = await until<ViewerStats & { route?: string; viewerId?: string }>(
      () => viewerStats(page),
      (s) => s.framesDecoded > 10 && Boolean(s.route),
      20_000,
    );
    return { playing: playing as ViewerStats & { route: string; viewerId: string }, id };
  } finally {
    await page.close();
  }
}

describe.skipIf(!labAvailable())('viewers behind firewalls', () => {
  it('plays through a TURN server when UDP reaches nothing else, with credentials minted per viewer', async () => {
    const { lab } = fixture;
    const turn = await lab.startTurn(TURN_SECRET);
    // UDP leaves the viewer's namespace only for the TURN server; TCP (the page, WHEP) goes anywhere.
    lab.viewerFirewall(`table inet lab {
      chain out { type filter hook output priority 0; policy accept;
        oifname "lo" accept
        meta l4proto udp ip daddr != ${LAB.turn} drop
      }
      chain in { type filter hook input priority 0; policy accept;
        iifname "lo" accept
        meta l4proto udp ip saddr != ${LAB.turn} drop
      }
    }`);
    const castpool = await startWithMedia([turn.url], false);
    try {
      const { playing } = await watchFromLab(castpool);
      expect(playing.route).toBe('relay/udp');
      // coturn accepted a credential castpool minted for this viewer: "<expiry>:<viewer id>", checked
      // with the shared secret (its first 401 is TURN's usual challenge for credentials).
      const allocated = new RegExp(
        `user <(\\d+):${playing.viewerId}>: incoming packet ALLOCATE processed, success`,
      );
      const expiry = Number(allocated.exec(turn.log())?.[1]);
      expect(expiry - Date.now() / 1000).toBeGreaterThan(500);
      expect(expiry - Date.now() / 1000).toBeLessThanOrEqual(600);
    } finally {
      await castpool.close();
    }
  }, 60_000);

  it('plays over ICE-TCP when no UDP gets through at all', async () => {
    fixture.lab.viewerFirewall(`table inet lab {
      chain out { type filter hook output priority 0; policy accept;
        oifname "lo" accept
        meta l4proto udp drop
      }
      chain in { type filter hook input priority 0; policy accept;
        iifname "lo" accept
        meta l4proto udp drop
      }
    }`);
    const castpool = await startWithMedia([], true);
    try {
      const { playing } = await watchFromLab(castpool);
      // Chromium's active TCP candidate shows as peer-reflexive once connected.
      expect(playing.route).toMatch(/^(host|prflx)\/tcp$/);
    } finally {
      await castpool.close();
    }
  }, 60_000);
});
