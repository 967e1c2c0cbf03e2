import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'puppeteer-core';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCastpool, withApiTokens } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';
import { TEST_ROOT } from '../helpers/test-root.js';
import { launchViewerBrowser, until } from '../helpers/viewer.js';

const TOKEN = 'dashboard-token-0123456789abc';
const auth = { authorization: `Bearer ${TOKEN}` };

let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;
// Each test has its own sessions, browser context and dashboard page: none depends on another.
let browser: BrowserContext;
let dashboard: Page;
let ids: string[];

type DashboardState = { polls: number; error: string; thumbnailFetches: Record<string, number> };
const dashboardState = () =>
  dashboard.evaluate(() => {
    const s = (
      window as unknown as { castpoolDashboard: DashboardState & { sessions: Map<string, unknown> } }
    ).castpoolDashboard;
    return { polls: s.polls, error: s.error, thumbnailFetches: { ...s.thumbnailFetches } };
  });
const cardState = (id: string) =>
  dashboard.evaluate((sid) => document.querySelector(`[data-id="${sid}"] .state`)?.textContent ?? null, id);
const click = (id: string, action: string) => dashboard.click(`[data-id="${id}"] [data-action="${action}"]`);
const thumbnailServed = async () => {
  const text = (await castpool.api('GET', '/metrics', undefined, auth)).text;
  return [...text.matchAll(/^castpool_thumbnails_total\{source="[a-z]+"\} (\d+)/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
};

beforeAll(async () => {
  pages = await startTestPages();
  castpool = await startCastpool({
    ...withApiTokens({ name: 'ops', token: TOKEN }),
  });
});

beforeEach(async () => {
  browser = await launchViewerBrowser();
  ids = [];
  for (const path of ['/static', '/animated']) {
    const created = await castpool.api('POST', '/api/sessions', { url: pages.url(path) }, auth);
    expect(created.status).toBe(201);
    ids.push(created.json.id);
  }
});

afterEach(async () => {
  await browser?.close();
  for (const id of ids) await castpool.api('DELETE', `/api/sessions/${id}`, undefined, auth);
});

afterAll(async () => {
  await castpool?.close();
  await pages?.close();
});

/** The dashboard in a fresh context: it asks for the token, takes it, and shows this test's sessions. */
async function openDashboard(): Promise<void> {
  dashboard = await browser.newPage();
  await dashboard.setViewport({ width: 1280, height: 900 });
  await dashboard.goto(`${castpool.base}/`);
  await until(dashboardState, (s) => s.error === 'an API token is needed');
  expect(await dashboard.$eval('#login', (form) => (form as HTMLFormElement).hidden)).toBe(false);
  await dashboard.type('#token', TOKEN);
  await dashboard.click('#login button');
  for (const id of ids)
    expect(
      await until(
        () => cardState(id),
        (s) => s === 'idle',
      ),
    ).toBe('idle');
}

describe('dashboard', () => {
  it('asks for a token, then lists every session with its state and a live thumbnail', async () => {
    await openDashboard();
    const thumbs = await until(
      () =>
        dashboard.$$eval('.card .thumb', (images) =>
          images.map((img) => (img as HTMLImageElement).naturalWidth),
        ),
      (widths) => widths.length === 2 && widths.every((w) => w === 320),
    );
    expect(thumbs).toEqual([320, 320]);
    // Refreshed about once a second.
    const before = await dashboardState();
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const after = await dashboardState();
    for (const id of ids)
      expect((after.thumbnailFetches[id] ?? 0) - (before.thumbnailFetches[id] ?? 0)).toBeGreaterThanOrEqual(
        2,
      );
  });

  it('hibernates, resumes, navigates and deletes with its buttons', async () => {
    await openDashboard();
    const [first, second] = ids as [string, string];
    await click(first, 'hibernate');
    expect(
      await until(
        () => cardState(first),
        (s) => s === 'hibernated',
      ),
    ).toBe('hibernated');
    expect((await castpool.api('GET', `/api/sessions/${first}`, undefined, auth)).json.state).toBe(
      'hibernated',
    );
    await dashboard.screenshot({ path: join(TEST_ROOT, 'dashboard.png') });
    const shot = await sharp(join(TEST_ROOT, 'dashboard.png')).stats();
    expect(statSync(join(TEST_ROOT, 'dashboard.png')).size).toBeGreaterThan(10_000);
    expect(shot.entropy).toBeGreaterThan(1); // not a blank page

    await click(first, 'resume');
    // Seen once at the end of a CI run: still hibernated after 15 s, no error shown. The message says
    // what the API and the button said then.
    const resumed = await until(
      () => cardState(first),
      (s) => s === 'idle',
      30_000,
    );
    const api = (await castpool.api('GET', `/api/sessions/${first}`, undefined, auth)).json;
    const disabled = await dashboard.$eval(
      `[data-id="${first}"] [data-action="resume"]`,
      (button) => (button as HTMLButtonElement).disabled,
    );
    expect(
      resumed,
      `error "${(await dashboardState()).error}", API state ${api.state}, resume button disabled ${disabled}`,
    ).toBe('idle');

    const field = `[data-id="${second}"] .nav input`;
    await dashboard.$eval(
      field,
      (input, url) => {
        (input as HTMLInputElement).value = url;
      },
      pages.url('/other'),
    );
    await dashboard.click(`[data-id="${second}"] .nav button`);
    const url = await until(
      () => dashboard.$eval(`[data-id="${second}"] .url`, (el) => el.textContent),
      (text) => text === pages.url('/other'),
    );
    const typed = await dashboard.$eval(field, (input) => (input as HTMLInputElement).value);
    expect(url, `error "${(await dashboardState()).error}", field "${typed}"`).toBe(pages.url('/other'));

    await click(second, 'delete');
    await until(
      () => cardState(second),
      (s) => s === null,
    );
    expect((await castpool.api('GET', `/api/sessions/${second}`, undefined, auth)).status).toBe(404);
  });

  it('opens a viewer with a control token from the View button', async () => {
    await openDashboard();
    const [first] = ids as [string];
    const opened = new Promise<Page | null>((resolve) =>
      browser.once('targetcreated', (target) => resolve(target.page())),
    );
    await click(first, 'view');
    const viewer = (await opened) as Page;
    await until(
      () => viewer.evaluate(() => location.pathname).catch(() => ''),
      (path) => path.endsWith('/view'),
    );
    expect(viewer.url()).toContain(`/api/sessions/${first}/view#token=`);
    const stats = await until(
      () =>
        viewer
          .evaluate(
            () =>
              (window as unknown as { castpoolViewer?: { framesDecoded: number } }).castpoolViewer
                ?.framesDecoded ?? 0,
          )
          .catch(() => 0),
      (frames) => frames > 5,
      15_000,
    );
    expect(stats).toBeGreaterThan(5);
    await viewer.close();
  });

  it('makes no thumbnails once nobody looks', async () => {
    await openDashboard();
    const looking = await thumbnailServed();
    await until(thumbnailServed, (served) => served > looking); // it did make them while open
    await dashboard.close();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const quiet = await thumbnailServed();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(await thumbnailServed()).toBe(quiet);
  });
});
