import { type Frame, TimeoutError } from 'puppeteer-core';
import { fromCallback } from 'xstate';
import type { NavigationResult } from '../machines/session.machine.js';
import type { PageHandle } from '../machines/types.js';
import { settledWithin } from '../settled-within.js';
import type { ActorDeps } from './deps.js';
import type { SessionPage } from './page.js';

/** How long a failed navigation waits for Chromium to commit its error page (or to stop a load). */
const ERROR_PAGE_WAIT_MS = 2000;

export function navigatePageActor(deps: ActorDeps) {
  return fromCallback<{ type: 'noop' }, { page: PageHandle; requestId: string; url: string }>(
    ({ input, sendBack }) => {
      const handle = input.page as SessionPage;
      const { page } = handle;
      let cancelled = false;
      let settleErrorPage = () => {};
      const report = (result: NavigationResult) => {
        if (!cancelled) sendBack({ type: 'navigate.done', result });
      };
      // Puppeteer's goto issued while another load runs can resolve on that load (measured under
      // load: the URL of the older one came back); one at a time keeps results true.
      const goto = handle.navigation
        .catch(() => {})
        .then(async () => {
          handle.guard?.forget(handle.frameId);
          // A failed load (refused, unreachable) rejects at once, but Chromium commits its error page
          // after that; a goto issued meanwhile resolved on that error page (seen: an allowed navigate
          // answered chrome-error://chromewebdata/). The next navigation waits for the commit.
          const errorPage = new Promise<void>((resolve) => {
            const onNavigated = (frame: Frame) => {
              if (frame !== page.mainFrame() || !frame.url().startsWith('chrome-error:')) return;
              page.off('framenavigated', onNavigated);
              resolve();
            };
            page.on('framenavigated', onNavigated);
            settleErrorPage = () => {
              page.off('framenavigated', onNavigated);
              resolve();
            };
          });
          try {
            return await page.goto(input.url, {
              waitUntil: 'load',
              timeout: deps.config.navigationTimeoutMs,
            });
          } catch (error) {
            // A server that never answers: the page goes back to its last document (a browser's
            // Stop button), so it is not left loading and the session reports the timeout.
            // A hung renderer never answers the stop: the timeout is reported all the same.
            if (error instanceof TimeoutError)
              await settledWithin(handle.cdp.send('Page.stopLoading'), ERROR_PAGE_WAIT_MS);
            if (/net::ERR_(?!ABORTED)/.test((error as Error).message))
              await settledWithin(errorPage, ERROR_PAGE_WAIT_MS);
            throw error;
          } finally {
            settleErrorPage();
          }
        });
      handle.navigation = goto;
      goto
        .then(async () => {
          // Some failures commit Chromium's error page without failing the load (a proxy's sign-in
          // refused): lastNavigation says so, as viewers see it.
          if (page.url().startsWith('chrome-error:'))
            throw new Error('the page could not be loaded: Chromium shows its error page');
          report({ requestId: input.requestId, url: page.url() });
        })
        .catch((error: Error) => {
          const refused = /ERR_BLOCKED_BY_CLIENT/.test(error.message)
            ? handle.guard?.refusalIn(handle.frameId)
            : undefined;
          report({
            requestId: input.requestId,
            url: input.url,
            error: refused ? `refused ${refused.url}: ${refused.reason}` : error.message,
            ...(refused ? { refused: `${refused.url}: ${refused.reason}` } : {}),
          });
        });
      return () => {
        cancelled = true;
      };
    },
  );
}
