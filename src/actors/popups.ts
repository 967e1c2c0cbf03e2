import type { Target } from 'puppeteer-core';
import { fromCallback } from 'xstate';
import type { PageHandle, PopupPolicy } from '../machines/types.js';
import type { ActorDeps } from './deps.js';
import type { SessionPage } from './page.js';

/** A `target=_blank` tab starts blank and gets its URL a moment later: wait this long for it. */
const URL_WAIT_MS = 2000;

/**
 * Windows the session's page opens (`window.open`, `target=_blank`): none stays open outside the
 * session. Each is closed at once; with the `same-tab` policy its URL is reported (`popup.opened`) so
 * the session loads it in its own page, through the URL policy like any navigation; `block` drops it.
 */
export function popupsActor(deps: ActorDeps) {
  return fromCallback<{ type: 'noop' }, { page: PageHandle; policy: PopupPolicy }>(({ input, sendBack }) => {
    const handle = input.page as SessionPage;
    const browser = handle.context.browser();
    const own = handle.page.target();
    let stopped = false;

    const onCreated = async (target: Target) => {
      if (target.browserContext() !== handle.context || target.type() !== 'page' || target === own) return;
      if (target.opener() !== own) return; // the context's spare page, or a window opened by another
      const url = await urlOf(target);
      // Closed whatever happens next: a window nobody sees must not keep running (memory, scripts).
      const session = await target.createCDPSession().catch(() => undefined);
      await session?.send('Page.close').catch(() => {});
      await session?.detach().catch(() => {});
      if (stopped) return;
      deps.log.info({ sessionId: handle.sessionId, policy: input.policy }, 'popup closed');
      if (input.policy === 'same-tab' && url && url !== 'about:blank')
        sendBack({ type: 'popup.opened', url });
    };
    browser.on('targetcreated', onCreated);
    return () => {
      stopped = true;
      browser.off('targetcreated', onCreated);
    };
  });
}

/** The popup's first real URL (a `target=_blank` tab starts as about:blank). */
function urlOf(target: Target): Promise<string> {
  if (target.url() && target.url() !== 'about:blank') return Promise.resolve(target.url());
  const browser = target.browser();
  return new Promise((resolve) => {
    const onChanged = (changed: Target) => {
      if (changed !== target || !changed.url() || changed.url() === 'about:blank') return;
      done(changed.url());
    };
    const timer = setTimeout(() => done(target.url()), URL_WAIT_MS);
    browser.on('targetchanged', onChanged);
    function done(url: string) {
      clearTimeout(timer);
      browser.off('targetchanged', onChanged);
      resolve(url);
    }
  });
}
