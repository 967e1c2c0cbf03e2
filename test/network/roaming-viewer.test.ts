import type { Page } from 'puppeteer-core';
import { describe, expect, it } from 'vitest';
import { labAuth as auth, labSession, startLabCastpool, useNetworkLab } from '../helpers/lab-fixture.js';
import { LAB, labAvailable } from '../helpers/network-lab.js';
import { openViewPage, until, viewerStats } from '../helpers/viewer.js';

// A viewer whose network changes under it (a laptop moving from one Wi-Fi to another, a phone from
// Wi-Fi to mobile): its address is gone, its media path with it. The view page restarts ICE on the
// same WHEP resource (PATCH with new credentials) and plays on, as the same viewer.
const fixture = useNetworkLab();

/** The address of the view page's end of the selected candidate pair. */
const localAddress = (page: Page) =>
  page.evaluate(async () => {
    const reports = await (window as unknown as { castpoolPc: RTCPeerConnection }).castpoolPc.getStats();
    for (const report of reports.values()) {
      if (report.type !== 'transport' || !report.selectedCandidatePairId) continue;
      const pair = reports.get(report.selectedCandidatePairId);
      return (reports.get(pair?.localCandidateId) as { address?: string } | undefined)?.address ?? '';
    }
    return '';
  });

describe.skipIf(!labAvailable())('a viewer whose network changes', () => {
  it('restarts ICE on its WHEP resource and plays on from its new address, as the same viewer', async () => {
    const { lab, pages, viewerBrowser } = fixture;
    const castpool = await startLabCastpool();
    try {
      const { id, viewUrl } = await labSession(castpool, pages.url('/animated'));
      const page = await openViewPage(viewerBrowser, await viewUrl());
      await page.evaluate(() => {
        (window as unknown as { loadedOnce: boolean }).loadedOnce = true;
      });
      const before = await until(
        () => viewerStats(page),
        (s) => s.framesDecoded > 10 && s.route.endsWith('/udp'),
        20_000,
      );
      expect(before.framesDecoded).toBeGreaterThan(10);
      expect(await localAddress(page)).toBe(LAB.viewer);
      expect(before.iceRestarts).toBe(0);

      const movedAt = Date.now();
      lab.moveViewer();
      const restarted = await until(
        () => viewerStats(page),
        (s) => s.iceRestarts >= 1,
        20_000,
      );
      expect(restarted.iceRestarts, JSON.stringify(restarted)).toBeGreaterThanOrEqual(1);
      const playing = await until(
        () => viewerStats(page),
        (s) => s.framesDecoded > restarted.framesDecoded + 30,
        20_000,
      );
      expect(playing.framesDecoded, JSON.stringify(playing)).toBeGreaterThan(restarted.framesDecoded + 30);
      console.log(
        `network change: ${restarted.iceRestarts} ICE restart(s), playing again ${Date.now() - movedAt} ms after the move`,
      );
      expect(await localAddress(page)).toBe(LAB.viewerMoved);
      // The same page, the same WHEP resource: no reload, no second viewer.
      expect(await page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce)).toBe(
        true,
      );
      expect(playing.viewerId).toBe(before.viewerId);
      const session = await castpool.api('GET', `/api/sessions/${id}`, undefined, auth);
      expect(session.json.viewers).toBe(1);
      const metrics = await castpool.api('GET', '/metrics', undefined, auth);
      expect(metrics.text).toMatch(/^castpool_viewer_ice_restarts_total\{outcome="done"\} [1-9]/m);
      await page.close();
    } finally {
      await castpool.close();
    }
  }, 90_000);
});
