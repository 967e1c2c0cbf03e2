import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { CHROMIUM_FLAGS } from '../src/actors/chromium.js';
import { benchRoot, chromiumPath, sleep, VIEWPORT, WARMUP_MS } from './util.js';

/** A Chromium of the bench's own (viewers, the old screenshot loop): not a castpool browser. */
export async function launchBenchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    ignoreDefaultArgs: ['--headless'],
    pipe: true,
    userDataDir: mkdtempSync(join(benchRoot(), 'chromium-')),
    // A test tool of the suite's own (as root): not a castpool browser.
    args: [...CHROMIUM_FLAGS, '--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
}

/** A page of that browser at the bench viewport, loaded and warmed up. */
export async function openBenchPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport(VIEWPORT);
  await page.goto(url);
  await sleep(WARMUP_MS);
  return page;
}

/** A viewer opens castpool's view page: ms from its connection to its first decoded frame. */
export async function firstFrameMs(browser: Browser, viewUrl: string): Promise<number> {
  const page = await browser.newPage();
  try {
    await page.goto(viewUrl);
    const handle = await page.waitForFunction(
      () => {
        const v = (window as unknown as { castpoolViewer: { firstFrameAt: number; connectedAt: number } })
          .castpoolViewer;
        return v.firstFrameAt > 0 && v.firstFrameAt - v.connectedAt;
      },
      { timeout: 15_000 },
    );
    return Number(await handle.jsonValue());
  } finally {
    await page.close();
  }
}

/** A viewer page of castpool's view, returned once it decoded its first frame. */
export async function openWatching(browser: Browser, viewUrl: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(viewUrl);
  await page.waitForFunction(
    () => (window as unknown as { castpoolViewer: { firstFrameAt: number } }).castpoolViewer.firstFrameAt > 0,
    { timeout: 15_000 },
  );
  return page;
}

/** Frames each view page has decoded so far. */
export const framesDecoded = (pages: readonly Page[]): Promise<number[]> =>
  Promise.all(
    pages.map((page) =>
      page.evaluate(
        () =>
          (window as unknown as { castpoolViewer: { framesDecoded: number } }).castpoolViewer.framesDecoded,
      ),
    ),
  );

/** Frames per second each view page decodes over the next `ms`. */
export async function decodedFpsOver(pages: readonly Page[], ms: number): Promise<number[]> {
  const [before, t0] = [await framesDecoded(pages), performance.now()];
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = await framesDecoded(pages);
  const seconds = (performance.now() - t0) / 1000;
  return after.map((frames, i) => (frames - (before[i] ?? 0)) / seconds);
}
