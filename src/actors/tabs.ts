import type { Target } from 'puppeteer-core';
import { fromCallback } from 'xstate';
import type { SiteCredentials } from '../access/site-credentials.js';
import type { SessionEvent } from '../machines/session.types.js';
import type { PageHandle, SessionParams, TabCommand } from '../machines/types.js';
import type { ActorDeps } from './deps.js';
import { prepareTab, type SessionPage } from './page.js';

/** A `target=_blank` tab starts blank and gets its URL a moment later: wait this long for it. */
const URL_WAIT_MS = 2000;

interface TabsInput {
  page: PageHandle;
  params: SessionParams;
  maxTabs: number;
}

/**
 * The session's tabs while it is live. A window one of its pages opens (`window.open`,
 * `target=_blank`) becomes a tab under the `tabs` policy (`tab.opened`; the request guard has held
 * it to the URL policy from its first request); under `same-tab` it is closed and its URL reported
 * (`popup.opened`) for the active tab to load; under `block` it is closed. Each tab's URL and title
 * are reported as they change (`tab.updated`), a tab that closes itself or crashes as `tab.gone`; a
 * background tab's dialog is answered by the session's dialog policy, or waits (reported) until its
 * tab is active. Closes the tabs it is told to.
 */
export function tabsActor(deps: ActorDeps, credentials: SiteCredentials) {
  return fromCallback<TabCommand, TabsInput>(({ input, sendBack, receive }) => {
    const first = input.page as SessionPage;
    const { context, sessionId } = first;
    const browser = context.browser();
    const { params, maxTabs } = input;
    let active = first;
    let adopting = 0;
    let stopped = false;
    const unwatch = new Map<SessionPage, () => void>();

    const report = (tab: SessionPage) => {
      if (stopped || tab.page.isClosed()) return;
      tab.cdp
        .send('Target.getTargetInfo')
        .then(({ targetInfo }) => {
          if (stopped || !unwatch.has(tab)) return;
          sendBack({
            type: 'tab.updated',
            page: tab,
            // The committed document's URL: the target's own may name a navigation still pending, or
            // one the URL policy refused (a refused redirect must not become the session's URL).
            url: tab.page.url() || targetInfo.url,
            title: targetInfo.title.slice(0, 300),
            ...(tab.openDialog ? { dialog: tab.openDialog.type } : {}),
          } satisfies SessionEvent);
        })
        .catch(() => {
          // the tab closed meanwhile
        });
    };

    const watch = (tab: SessionPage) => {
      const { cdp, page } = tab;
      const onNavigated = (event: { frame: { parentId?: string } }) => {
        if (!event.frame.parentId) report(tab);
      };
      const onChanged = () => report(tab);
      const onDialog = () => {
        if (tab === active) {
          report(tab);
          return; // the dialogs actor has it
        }
        if (params.dialogs === 'surface') {
          report(tab); // waits, marked in the tab list, for its tab to be active
          return;
        }
        const accept = params.dialogs === 'accept' || tab.openDialog?.type === 'beforeunload';
        cdp.send('Page.handleJavaScriptDialog', { accept }).catch(() => {});
      };
      const onClose = () => {
        if (!stopped) sendBack({ type: 'tab.gone', page: tab, reason: 'the tab closed' });
      };
      const onCrash = () => {
        if (tab === active) return; // the liveness watch restarts the session
        void page.close().catch(() => {});
      };
      const events: [string, (event: never) => void][] = [
        ['Page.frameNavigated', onNavigated],
        ['Page.navigatedWithinDocument', onChanged],
        ['Page.domContentEventFired', onChanged],
        ['Page.loadEventFired', onChanged],
        ['Page.javascriptDialogOpening', onDialog],
        ['Page.javascriptDialogClosed', onChanged],
      ];
      const session = cdp as unknown as {
        on(name: string, fn: never): void;
        off(name: string, fn: never): void;
      };
      for (const [name, fn] of events) session.on(name, fn as never);
      page.on('close', onClose);
      page.on('error', onCrash);
      unwatch.set(tab, () => {
        for (const [name, fn] of events) session.off(name, fn as never);
        page.off('close', onClose);
        page.off('error', onCrash);
      });
      report(tab);
    };

    const adopt = async (target: Target, opener: SessionPage, url?: string) => {
      // A popup storm is cut at the limit before any work is spent on it.
      if (first.tabs.size + adopting >= maxTabs) {
        await closeTarget(target);
        if (!stopped) sendBack({ type: 'tab.refused', url: target.url() });
        return;
      }
      adopting++;
      try {
        const page = await target.page();
        if (!page) return;
        const tab = await prepareTab(deps, credentials, page, {
          sessionId,
          params,
          viewport: opener.viewport,
          browser: first,
          context,
          fanout: first.fanout,
          audio: first.audio,
          window: { tabs: first.tabs, window: first.window },
        });
        if (stopped) return; // the session left `live`: its context closes with its tabs
        watch(tab);
        sendBack({ type: 'tab.opened', page: tab, url: url ?? page.url(), title: '' });
        // Under the URL policy like any navigation: the request guard refuses what it must.
        if (url) tab.cdp.send('Page.navigate', { url }).catch(() => {});
      } catch (error) {
        deps.log.info({ sessionId, reason: (error as Error).message }, 'a new tab could not be set up');
        await closeTarget(target);
      } finally {
        adopting--;
      }
    };

    const onCreated = async (target: Target) => {
      if (target.browserContext() !== context || target.type() !== 'page') return;
      const opener = [...first.tabs].find((tab) => tab.page.target() === target.opener());
      if (!opener) return; // the context's spare page, or a page castpool opened itself
      if (params.popups === 'tabs') {
        await adopt(target, opener);
        return;
      }
      const url = await urlOf(target);
      // Closed whatever happens next: a window nobody sees must not keep running (memory, scripts).
      await closeTarget(target);
      if (stopped) return;
      deps.log.info({ sessionId, policy: params.popups }, 'popup closed');
      if (params.popups === 'same-tab' && url && url !== 'about:blank')
        sendBack({ type: 'popup.opened', url });
    };

    browser.on('targetcreated', onCreated);
    for (const tab of first.tabs) watch(tab);
    const open = async (url: string) => {
      try {
        // In the session's window, as a popup opens (a window of its own would be drawn unseen,
        // and capture in it crawls: the first frames took ~10 s).
        const { targetId } = await active.cdp.send('Target.createTarget', {
          url: 'about:blank',
          browserContextId: context.id,
          newWindow: false,
        });
        const target = await browser.waitForTarget((t) => targetIdOf(t) === targetId, { timeout: 10_000 });
        await adopt(target, active, url);
      } catch (error) {
        deps.log.info({ sessionId, reason: (error as Error).message }, 'a tab could not be opened');
      }
    };

    receive((command) => {
      if (command.type === 'tabs.open') {
        void open(command.url);
        return;
      }
      const tab = command.page as SessionPage;
      if (command.type === 'tabs.active') {
        active = tab;
        // The window shows one tab: the active one (the others are hidden and draw nothing).
        tab.cdp.send('Page.bringToFront').catch(() => {});
        return;
      }
      unwatch.get(tab)?.();
      unwatch.delete(tab);
      first.tabs.delete(tab);
      void tab.page.close({ runBeforeUnload: false }).catch(() => {});
    });
    return () => {
      stopped = true;
      browser.off('targetcreated', onCreated);
      for (const stop of unwatch.values()) stop();
      unwatch.clear();
    };
  });
}

async function closeTarget(target: Target): Promise<void> {
  const session = await target.createCDPSession().catch(() => undefined);
  await session?.send('Page.close').catch(() => {});
  await session?.detach().catch(() => {});
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

/** Chromium's id of a target (puppeteer keeps it on the target, unexported). */
const targetIdOf = (target: Target) => (target as unknown as { _targetId: string })._targetId;
