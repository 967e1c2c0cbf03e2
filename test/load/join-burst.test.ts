import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCastpool } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';
import { launchViewerBrowser, until, viewerStats } from '../helpers/viewer.js';

let pages: Awaited<ReturnType<typeof startTestPages>>;

beforeAll(async () => {
  pages = await startTestPages();
});

afterAll(async () => {
  await pages?.close();
});

const SESSIONS = 5;
const JOINS = 20;

/**
 * Long (npm run test:load): twenty real Chromium viewer pages opening at once take the suite's viewer
 * browser 20–30 s on two cores; castpool's side settles within ~2 s of the last page opening.
 */
describe('a burst of viewers joining sessions nobody watched yet', () => {
  it.each(['tab', 'screencast'] as const)(
    '%s: every one of 20 simultaneous joins over 5 sessions is served or refused clearly, none left connecting',
    async (capture) => {
      const castpool = await startCastpool({ sessionsPerBrowser: SESSIONS });
      const viewers = await launchViewerBrowser();
      try {
        const links: string[] = [];
        for (let i = 0; i < SESSIONS; i++) {
          const created = await castpool.api('POST', '/api/sessions', {
            url: pages.url('/animated'),
            capture,
          });
          expect(created.status).toBe(201);
          links.push(created.json.links.view);
        }
        // All at once: five captures start while twenty peers negotiate (the event loop is late by
        // up to a second here; werift's DTLS client failed every handshake of such a burst).
        const t0 = performance.now();
        const views: Page[] = await Promise.all(
          Array.from({ length: JOINS }, async (_, i) => {
            const page = await viewers.newPage();
            await page.goto(links[i % SESSIONS] as string, { waitUntil: 'domcontentloaded' });
            return page;
          }),
        );
        const opened = performance.now() - t0;
        // A page told to come back later (503 + Retry-After) waits and offers again: refused clearly.
        const outcome = (s: Awaited<ReturnType<typeof viewerStats>>) =>
          s.framesDecoded > 0
            ? 'playing'
            : s.error || s.waiting
              ? `refused: ${s.error || s.waiting}`
              : s.state;
        const settled = (s: Awaited<ReturnType<typeof viewerStats>>) => outcome(s) !== s.state;
        const outcomes = await until(
          () => Promise.all(views.map(viewerStats)),
          (all) => all.every(settled),
          20_000,
        );
        const summary = outcomes.map(outcome);
        console.log(
          `join burst ${capture}: ${summary.filter((o) => o === 'playing').length}/${JOINS} playing (pages open ${opened.toFixed(0)} ms, settled ${(performance.now() - t0).toFixed(0)} ms)`,
        );
        // Served (frames decoded) or refused with a clear reason (503 host_saturated); never stuck.
        for (const result of summary) expect(result).toMatch(/^(playing|refused: 503: .+)$/);
        expect(summary.filter((o) => o === 'playing').length).toBeGreaterThan(0);
      } finally {
        await viewers.close();
        await castpool.close();
      }
    },
  );
});
