import { fromCallback } from 'xstate';
import type { PageHandle } from '../machines/types.js';
import type { ActorDeps } from './deps.js';
import type { SessionPage } from './page.js';

type Lifecycle = 'frozen' | 'active';

/**
 * Freezes every tab of an unwatched session with Chromium's own page freezing (the Page Lifecycle
 * API's `frozen`: the state a background tab is put in to save power). Nothing of the page runs —
 * timers, workers, requestAnimationFrame, CSS animations, network callbacks wait — so it costs no CPU,
 * and the page keeps everything it had in memory. Stopping the actor thaws the tabs; their CDP
 * sessions deliver commands in order, so whatever the session sends them next (a capture, a
 * navigation, a hibernation's save) runs on a thawed page. Measured: thawed within ~5 ms; an animated
 * page with a 4 ms timer and a worker went from 58 % of a core to the browser's idle ~1 %. The window
 * is concealed too (minimized unless a capture or a screenshot holds it shown): compositor animations
 * run without the page's main thread.
 * CDP, not the kernel's cgroup freezer: it works inside any container, freezes one session's pages
 * in a browser that other (watched) sessions share, and leaves the browser answering CDP.
 */
export function freezePagesActor(deps: ActorDeps) {
  return fromCallback<{ type: 'noop' }, { page: PageHandle }>(({ input }) => {
    const page = input.page as SessionPage;
    const tabs = [...page.tabs];
    const setAll = (state: Lifecycle) => {
      for (const tab of tabs) {
        if (tab.page.isClosed()) continue;
        tab.cdp.send('Page.setWebLifecycleState', { state }).catch((error: unknown) => {
          // A tab closing meanwhile; anything else leaves the page as it was (running), said once here.
          if (!tab.page.isClosed())
            deps.log.warn({ sessionId: page.sessionId, err: error, state }, 'page lifecycle change failed');
        });
      }
    };
    // Hidden as well: a frozen page's compositor animations would still be drawn.
    const reveal = page.window.conceal();
    setAll('frozen');
    return () => {
      setAll('active');
      reveal();
    };
  });
}
