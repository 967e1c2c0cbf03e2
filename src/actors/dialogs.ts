import type { Protocol } from 'puppeteer-core';
import { fromCallback } from 'xstate';
import type { DialogCommand, PageHandle } from '../machines/types.js';
import type { ActorDeps } from './deps.js';
import type { SessionPage } from './page.js';
import { pageDialogOf } from './page-dialog.js';

/**
 * The active tab's JavaScript dialogs (one it showed in the background is reported at once): reports each one opening (`dialog.opened`) and closing
 * (`dialog.closed`), and answers the open one when its session says so. What to answer, and when, is
 * the session machine's decision (its dialog policy).
 */
export function dialogsActor(deps: ActorDeps) {
  return fromCallback<DialogCommand, { page: PageHandle }>(({ input, sendBack, receive }) => {
    const tab = input.page as SessionPage;
    const { cdp, sessionId } = tab;
    const onOpening = (event: Protocol.Page.JavascriptDialogOpeningEvent) =>
      sendBack({ type: 'dialog.opened', dialog: pageDialogOf(event) });
    const onClosed = (event: Protocol.Page.JavascriptDialogClosedEvent) =>
      sendBack({ type: 'dialog.closed', accepted: event.result });
    cdp.on('Page.javascriptDialogOpening', onOpening);
    cdp.on('Page.javascriptDialogClosed', onClosed);
    if (tab.openDialog) sendBack({ type: 'dialog.opened', dialog: tab.openDialog });
    receive((command) => {
      cdp
        .send('Page.handleJavaScriptDialog', {
          accept: command.accept,
          ...(command.promptText !== undefined ? { promptText: command.promptText } : {}),
        })
        .catch((error: Error) =>
          // Gone meanwhile (the page navigated or closed it): nothing left to answer.
          deps.log.debug({ sessionId, reason: error.message }, 'dialog answer not needed'),
        );
    });
    return () => {
      cdp.off('Page.javascriptDialogOpening', onOpening);
      cdp.off('Page.javascriptDialogClosed', onClosed);
    };
  });
}
