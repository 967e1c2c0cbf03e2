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

const PROBE_MS = 1000;

/** The promise's value, or undefined if it takes longer than `ms` (or fails). */
async function within<T>(promise: Promise<T | undefined>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  const result = await Promise.race([promise.catch(() => undefined), late]);
  clearTimeout(timer);
  return result;
}

/** A renderer that answers within PROBE_MS (~1 ms when healthy). */
async function answers(page: Page): Promise<boolean> {
  if (page.isClosed()) return false;
  return (
    (await within(
      page.evaluate('1').then(() => true),
      PROBE_MS,
    )) ?? false
  );
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

  /** The spare if it is ready (or nearly), else a new blank page; a new spare starts behind it. */
  async take(): Promise<BlankPage> {
    const spare = this.spare;
    this.spare = undefined;
    this.refill();
    const ready = spare ? await within(spare, PROBE_MS) : undefined;
    if (ready && (await answers(ready.page))) return ready;
    // A spare that is late, dead or hung (it shares the browser's fate) is dropped, not handed out.
    if (ready) void ready.context.close().catch(() => {});
    else void spare?.then((late) => late?.context.close().catch(() => {}));
    return openBlank(this.browser);
  }

  /** The browser is closing: no new spare (the open one closes with the browser). */
  close(): void {
    this.closed = true;
  }

  private refill(): void {
    // One spare at a time: concurrent takes once replaced a spare nobody held any more (a leaked
    // context per overlap, measured: 43 contexts left after 80 creates in batches of 8).
    if (this.spare || !this.enabled || this.closed || !this.browser.connected) return;
    this.spare = openBlank(this.browser).catch(() => undefined);
  }
}
