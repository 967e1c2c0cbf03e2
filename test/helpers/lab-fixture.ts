import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll } from 'vitest';
import { startCastpool, withApiTokens } from './app.js';
import { buildNetworkLab, LAB, type NetworkLab } from './network-lab.js';
import { startTestPages } from './test-pages.js';

const LAB_TOKEN = 'lab-token-0123456789abcdef';
export const labAuth = { authorization: `Bearer ${LAB_TOKEN}` };

/** For one test file: the network lab, the test pages and a viewer Chromium inside the lab. */
export function useNetworkLab() {
  const fixture = {} as {
    lab: NetworkLab;
    pages: Awaited<ReturnType<typeof startTestPages>>;
    viewerBrowser: Browser;
  };
  beforeAll(async () => {
    fixture.lab = await buildNetworkLab();
    fixture.pages = await startTestPages();
    fixture.viewerBrowser = await fixture.lab.launchViewer();
  }, 30_000);
  afterAll(async () => {
    await fixture.viewerBrowser?.close().catch(() => {});
    await fixture.pages?.close();
    await fixture.lab?.close();
  });
  return fixture;
}

type Castpool = Awaited<ReturnType<typeof startCastpool>>;

/** castpool on the lab's own address, with the lab's API token. */
export function startLabCastpool(overrides: Parameters<typeof startCastpool>[0] = {}): Promise<Castpool> {
  return startCastpool({
    host: LAB.castpool,
    ...withApiTokens({ name: 'lab', token: LAB_TOKEN }),
    ...overrides,
  });
}

/** A session of `url` on castpool and a way to its view page (a view-only token each time). */
export async function labSession(castpool: Castpool, url: string, extra: Record<string, unknown> = {}) {
  const created = await castpool.api('POST', '/api/sessions', { url, ...extra }, labAuth);
  const { id } = created.json as { id: string };
  const viewUrl = async () => {
    const minted = await castpool.api(
      'POST',
      `/api/sessions/${id}/viewer-tokens`,
      { scope: 'view' },
      labAuth,
    );
    return `${castpool.base}/api/sessions/${id}/view#token=${minted.json.token}`;
  };
  return { id, status: created.status, viewUrl };
}
