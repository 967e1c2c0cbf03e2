import { fromCallback } from 'xstate';
import type { PageHandle } from '../machines/types.js';
import type { ActorDeps } from './deps.js';
import type { SessionPage } from './page.js';

/**
 * Watches a live page: a renderer crash is reported as `page.crashed`; a page that does not answer
 * a CDP probe in time as `page.unresponsive` (the session decides: a page showing a dialog or
 * loading is busy, not hung).
 */
export function watchPageActor(deps: ActorDeps) {
  return fromCallback<{ type: 'noop' }, { page: PageHandle }>(({ input, sendBack }) => {
    const handle = input.page as SessionPage;
    const { page, cdp } = handle;
    const { probeIntervalMs, probeTimeoutMs } = deps.config.supervision;
    // The main frame's load in progress (a link to a slow server): a probe may wait on it.
    let loadingSince = 0;
    const onStartedLoading = (event: { frameId: string }) => {
      if (event.frameId === handle.frameId) loadingSince ||= Date.now();
    };
    const onStoppedLoading = (event: { frameId: string }) => {
      if (event.frameId === handle.frameId) loadingSince = 0;
    };
    cdp.on('Page.frameStartedLoading', onStartedLoading);
    cdp.on('Page.frameStoppedLoading', onStoppedLoading);
    cdp.send('Page.enable').catch(() => {});
    let crashed = false;
    const onCrash = () => {
      if (crashed) return;
      crashed = true;
      sendBack({ type: 'page.crashed', reason: 'page crashed' });
    };
    page.on('error', onCrash);
    let probing = false;
    const probe = setInterval(() => {
      if (probing) return;
      probing = true;
      const probeStartedAt = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), probeTimeoutMs);
      });
      Promise.race([cdp.send('Runtime.evaluate', { expression: '0' }).then(() => 'ok' as const), deadline])
        .then((outcome) => {
          if (outcome !== 'late' || crashed) return;
          const loading = loadingSince > 0;
          // A load past the navigation deadline is given up, as a navigate command's would be: the
          // page is back on its last document, and the next probe tells whether it answers.
          // Its stop is not awaited for: a hung renderer never reports it, so the load's excuse ends
          // here and the next late probe is a hang.
          if (loading && Date.now() - loadingSince > deps.config.navigationTimeoutMs) {
            loadingSince = 0;
            void cdp.send('Page.stopLoading').catch(() => {});
          }
          sendBack({
            type: 'page.unresponsive',
            reason: `renderer did not answer a probe within ${probeTimeoutMs} ms`,
            loading,
            probeStartedAt,
          });
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
      cdp.off('Page.frameStartedLoading', onStartedLoading);
      cdp.off('Page.frameStoppedLoading', onStoppedLoading);
      page.off('error', onCrash);
    };
  });
}
