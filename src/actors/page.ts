import type { BrowserContext, CDPSession, Page } from 'puppeteer-core';
import { fromCallback, fromPromise } from 'xstate';
import type { NavigationResult } from '../machines/session.machine.js';
import type { BrowserHandle, PageHandle, SessionParams, Viewport } from '../machines/types.js';
import { RtpFanout } from '../media/rtp-fanout.js';
import type { ChromiumBrowser } from './chromium.js';
import type { ActorDeps } from './deps.js';

/** A session's own browser context and page, with the fan-out its capture feeds and its viewers read. */
export class SessionPage implements PageHandle {
  /** The frame the encoder took last, while a capture runs (thumbnails reuse it). */
  latestFrame: Buffer | undefined;
  /** Encoders running for this session now (ffmpeg processes or in-page tab captures): one, whatever the viewers. */
  encoders = 0;
  constructor(
    readonly sessionId: string,
    readonly context: BrowserContext,
    readonly page: Page,
    readonly cdp: CDPSession,
    readonly viewport: Viewport,
    /** Carried over from the page a restart replaced, so attached viewers keep their stream. */
    readonly fanout: RtpFanout = new RtpFanout(),
  ) {}
}

export function openPageActor() {
  return fromPromise<
    PageHandle,
    { browser: BrowserHandle; sessionId: string; params: SessionParams; previous?: PageHandle }
  >(async ({ input, signal }) => {
    const { browser } = input.browser as ChromiumBrowser;
    const context = await browser.createBrowserContext();
    try {
      const page = await context.newPage();
      await page.setViewport(input.params.viewport);
      const cdp = await page.createCDPSession();
      // Leaving `launching` (close, crash) aborts us: nothing else would ever close this context.
      if (signal.aborted) throw new Error('session closed while opening');
      const previous = input.previous as SessionPage | undefined;
      return new SessionPage(input.sessionId, context, page, cdp, input.params.viewport, previous?.fanout);
    } catch (error) {
      await context.close().catch(() => {});
      throw error;
    }
  });
}

export function closePageActor(deps: ActorDeps) {
  return fromPromise<void, { page: PageHandle | undefined }>(async ({ input }) => {
    const handle = input.page as SessionPage | undefined;
    if (!handle) return;
    // A dead browser never answers; do not hang the close path on it.
    await Promise.race([
      handle.context.close().catch(() => {}),
      new Promise((resolve) => setTimeout(resolve, 5000).unref()),
    ]);
    deps.log.debug({ sessionId: handle.sessionId }, 'page closed');
  });
}

/**
 * Watches a live page: a renderer crash, or a page that stops answering a CDP probe (a hung
 * renderer), is reported as `page.crashed` so the session restarts.
 */
export function watchPageActor(deps: ActorDeps) {
  return fromCallback<{ type: 'noop' }, { page: PageHandle }>(({ input, sendBack }) => {
    const { page, cdp } = input.page as SessionPage;
    const { probeIntervalMs, probeTimeoutMs } = deps.config.supervision;
    let reported = false;
    const report = (reason: string) => {
      if (reported) return;
      reported = true;
      sendBack({ type: 'page.crashed', reason });
    };
    const onCrash = () => report('page crashed');
    page.on('error', onCrash);
    let probing = false;
    const probe = setInterval(() => {
      if (probing) return;
      probing = true;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), probeTimeoutMs);
      });
      Promise.race([cdp.send('Runtime.evaluate', { expression: '0' }).then(() => 'ok' as const), deadline])
        .then((outcome) => {
          if (outcome === 'late') report(`renderer did not answer a probe within ${probeTimeoutMs} ms`);
        })
        .catch(() => {
          // the session's CDP channel closed: the browser host reports the crash
        })
        .finally(() => {
          clearTimeout(timer);
          probing = false;
        });
    }, probeIntervalMs);
    return () => {
      clearInterval(probe);
      page.off('error', onCrash);
    };
  });
}

export function navigatePageActor(deps: ActorDeps) {
  return fromCallback<{ type: 'noop' }, { page: PageHandle; requestId: string; url: string }>(
    ({ input, sendBack }) => {
      const { page } = input.page as SessionPage;
      let cancelled = false;
      const report = (result: NavigationResult) => {
        if (!cancelled) sendBack({ type: 'navigate.done', result });
      };
      page
        .goto(input.url, { waitUntil: 'load', timeout: deps.config.navigationTimeoutMs })
        .then(() => report({ requestId: input.requestId, url: page.url() }))
        .catch((error: Error) =>
          report({ requestId: input.requestId, url: input.url, error: error.message }),
        );
      return () => {
        cancelled = true;
      };
    },
  );
}
