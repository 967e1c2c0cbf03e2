import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WarmPage } from '../../src/actors/warm-page.js';
import { launchOwnViewerBrowser, until } from '../helpers/viewer.js';

let browser: Browser;

beforeAll(async () => {
  browser = await launchOwnViewerBrowser();
});

afterAll(async () => {
  await browser?.close();
});

describe('warm page', () => {
  it('keeps exactly one spare, however many takes overlap (no context is left behind)', async () => {
    const warm = new WarmPage(browser, true);
    const baseline = 1; // the default context
    for (let round = 0; round < 2; round++) {
      const taken = await Promise.all(Array.from({ length: 5 }, () => warm.take()));
      expect(new Set(taken.map((t) => t.context)).size).toBe(5);
      for (const { page } of taken) expect(await page.evaluate('1 + 1')).toBe(2);
      await Promise.all(taken.map((t) => t.context.close()));
    }
    // What remains: the default context and one spare (being opened, then open).
    const contexts = await until(
      () => browser.browserContexts().length,
      (n) => n === baseline + 1,
      5000,
    );
    expect(contexts).toBe(baseline + 1);
    warm.close();
  });
});
