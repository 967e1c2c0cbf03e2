import type { Protocol } from 'puppeteer-core';
import { fromCallback } from 'xstate';
import type { DialogCommand, PageDialog, PageHandle } from '../machines/types.js';
import type { ActorDeps } from './deps.js';
import type { SessionPage } from './page.js';

/** A page's message can be any length; clients get enough to read it. */
const MAX_MESSAGE_CHARS = 4096;

/**
 * A live page's JavaScript dialogs: reports each one opening (`dialog.opened`) and closing
 * (`dialog.closed`), and answers the open one when its session says so. What to answer, and when, is
 * the session machine's decision (its dialog policy).
 */
export function dialogsActor(deps: ActorDeps) {
  return fromCallback<DialogCommand, { page: PageHandle }>(({ input, sendBack, receive }) => {
    const { cdp, sessionId } = input.page as SessionPage;
    const onOpening = (event: Protocol.Page.JavascriptDialogOpeningEvent) => {
      const dialog: PageDialog = {
        type: event.type,
        message: event.message.slice(0, MAX_MESSAGE_CHARS),
        defaultPrompt: (event.defaultPrompt ?? '').slice(0, MAX_MESSAGE_CHARS),
        url: event.url,
      };
      sendBack({ type: 'dialog.opened', dialog });
    };
    const onClosed = (event: Protocol.Page.JavascriptDialogClosedEvent) =>
      sendBack({ type: 'dialog.closed', accepted: event.result });
    cdp.on('Page.javascriptDialogOpening', onOpening);
    cdp.on('Page.javascriptDialogClosed', onClosed);
    // Dialog events come only to sessions that enabled the Page domain.
    cdp.send('Page.enable').catch(() => {});
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
