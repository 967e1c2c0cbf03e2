import type { Browser, BrowserContext, Page } from 'puppeteer-core';

export interface BlankPage {
  context: BrowserContext;
  page: Page;
}

async function openBlank(browser: Browser): Promise<BlankPage> {
  const context = await browser.createBrowserContext();
  try {
    return { context, page: await context.newPage() };
  } catch (error) {
    await context.close().catch(() => {});
    throw error;
  }
}

/**
 * A fresh, never-used context and page kept ready per browser. Starting a renderer for a new page
 * takes ~200 ms here, most of a create, restart or resume; the spare takes it off that path.
 */
export class WarmPage {
  private spare: Promise<BlankPage | undefined> | undefined;
  private closed = false;

  constructor(
    private readonly browser: Browser,
    private readonly enabled: boolean,
  ) {
    this.refill();
  }

  /** The spare (even if still starting) or a new blank page; a new spare starts behind it. */
  async take(): Promise<BlankPage> {
    const spare = this.spare;
    this.spare = undefined;
    const ready = spare ? await spare : undefined;
    this.refill();
    return ready ?? openBlank(this.browser);
  }

  /** The browser is closing: no new spare (the open one closes with the browser). */
  close(): void {
    this.closed = true;
  }

  private refill(): void {
    if (!this.enabled || this.closed || !this.browser.connected) return;
    this.spare = openBlank(this.browser).catch(() => undefined);
  }
}
