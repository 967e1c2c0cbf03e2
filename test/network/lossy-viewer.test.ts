import type { Browser, BrowserContext } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ViewerLink } from '../../src/machines/types.js';
import { labAuth as auth, labSession, startLabCastpool, useNetworkLab } from '../helpers/lab-fixture.js';
import { labAvailable } from '../helpers/network-lab.js';
import {
  framesDecodedNow,
  launchViewerBrowser,
  openViewPage,
  until,
  viewerStats,
} from '../helpers/viewer.js';

// Two viewers of one session: one on a clean link (this host), one whose namespace drops 5 % of the
// UDP it receives. Lost packets are asked for again (NACK) and sent again from castpool's packet
// history; the session view shows each viewer's link; the clean viewer does not pay for the other.
const LOSS_PERCENT = 5;

const fixture = useNetworkLab();
let cleanBrowser: BrowserContext;

beforeAll(async () => {
  cleanBrowser = await launchViewerBrowser();
});

afterAll(async () => {
  await cleanBrowser?.close().catch(() => {});
});

describe.skipIf(!labAvailable())('a viewer on a lossy link', () => {
  it('gets lost packets again, shows in the session view, and costs the clean viewer nothing', async () => {
    const { lab, pages, viewerBrowser: lossyBrowser } = fixture;
    lab.viewerFirewall(`table inet lab {
      chain in { type filter hook input priority 0; policy accept;
        meta l4proto udp numgen random mod 100 < ${LOSS_PERCENT} drop
      }
    }`);
    const castpool = await startLabCastpool();
    try {
      const { id, viewUrl } = await labSession(castpool, pages.url('/animated'));
      const view = async (browser: Browser | BrowserContext) => openViewPage(browser, await viewUrl());
      const lossy = await view(lossyBrowser);
      const clean = await view(cleanBrowser);
      for (const page of [lossy, clean]) {
        const playing = await until(
          () => viewerStats(page),
          (s) => s.framesDecoded > 10,
          20_000,
        );
        expect(playing.framesDecoded).toBeGreaterThan(10);
      }
      const lossyId = (await viewerStats(lossy)).viewerId;
      const cleanId = (await viewerStats(clean)).viewerId;
      const links = await until(
        async () =>
          ((await castpool.api('GET', `/api/sessions/${id}`, undefined, auth)).json
            .viewerLinks as ViewerLink[]) ?? [],
        (all) =>
          (all.find((l) => l.viewerId === lossyId)?.retransmits ?? 0) > 0 &&
          all.every((l) => l.rttMs !== null),
        20_000,
      );
      const lossyLink = links.find((l) => l.viewerId === lossyId);
      const cleanLink = links.find((l) => l.viewerId === cleanId);
      // Side by side over the same 4 s, read from both peer connections at once.
      const framesNow = () => Promise.all([framesDecodedNow(lossy), framesDecodedNow(clean)]);
      const [lossyBefore, cleanBefore] = await framesNow();
      await new Promise((resolve) => setTimeout(resolve, 4000));
      const [lossyAfter, cleanAfter] = await framesNow();
      console.log(`lossy viewer ${JSON.stringify(lossyLink)}; clean viewer ${JSON.stringify(cleanLink)}`);
      console.log(
        `frames over the same 4 s: lossy ${lossyAfter - lossyBefore}, clean ${cleanAfter - cleanBefore}`,
      );
      expect(lossyLink?.nacks).toBeGreaterThan(0);
      expect(lossyLink?.retransmits).toBeGreaterThan(0);
      expect(lossyLink?.rttMs).not.toBeNull();
      // The repairs come as RTX (their own SSRC and payload type, RFC 4588): the player knows them apart.
      const repairs = await lossy.evaluate(async () => {
        const pc = (window as unknown as { castpoolPc: RTCPeerConnection }).castpoolPc;
        let retransmitted = 0;
        for (const report of (await pc.getStats()).values())
          if (report.type === 'inbound-rtp' && report.kind === 'video')
            retransmitted = report.retransmittedPacketsReceived ?? 0;
        const answer = pc.remoteDescription?.sdp ?? '';
        return {
          retransmitted,
          rtx: /a=rtpmap:\d+ rtx\/90000/.test(answer),
          fid: /a=ssrc-group:FID /.test(answer),
        };
      });
      console.log(`lossy viewer's repairs: ${JSON.stringify(repairs)}`);
      expect(repairs).toMatchObject({ rtx: true, fid: true });
      expect(repairs.retransmitted).toBeGreaterThan(0);
      expect(cleanLink?.nacks).toBe(0);
      expect(cleanLink?.packetsLost).toBe(0);
      // Both keep playing; the lossy one's repairs do not slow the clean one down.
      expect(lossyAfter).toBeGreaterThan(lossyBefore);
      expect(cleanAfter - cleanBefore).toBeGreaterThanOrEqual(0.9 * (lossyAfter - lossyBefore));
      await lossy.close();
      await clean.close();
    } finally {
      await castpool.close();
    }
  }, 90_000);
});
