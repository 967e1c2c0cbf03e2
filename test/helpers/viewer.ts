import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { CHROMIUM_FLAGS } from '../../src/actors/chromium.js';
import { TEST_ROOT } from './test-root.js';

export interface ViewerStats {
  framesDecoded: number;
  fps: number;
  width: number;
  height: number;
  codec: string;
  state: string;
  error: string;
}

/** A real Chromium that plays sessions the way a user's browser does. */
export async function launchViewerBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    ignoreDefaultArgs: ['--headless'],
    pipe: true,
    userDataDir: mkdtempSync(join(TEST_ROOT, 'viewer-')),
    args: [...CHROMIUM_FLAGS, '--autoplay-policy=no-user-gesture-required'],
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
}

export async function openViewPage(browser: Browser, viewUrl: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(viewUrl);
  return page;
}

export const viewerStats = (page: Page) =>
  page.evaluate(() => ({ ...(window as unknown as { castpoolViewer: ViewerStats }).castpoolViewer }));

/** Polls until `check` passes or the deadline ends; returns the last value. */
export async function until<T>(
  read: () => Promise<T> | T,
  check: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!check(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}
