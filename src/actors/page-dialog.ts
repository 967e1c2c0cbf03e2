import type { Protocol } from 'puppeteer-core';
import type { PageDialog } from '../machines/types.js';

/** A page's message can be any length; clients get enough to read it. */
const MAX_MESSAGE_CHARS = 4096;

/** A dialog as the page's CDP event tells it, its texts bounded. */
export function pageDialogOf(event: Protocol.Page.JavascriptDialogOpeningEvent): PageDialog {
  return {
    type: event.type,
    message: event.message.slice(0, MAX_MESSAGE_CHARS),
    defaultPrompt: (event.defaultPrompt ?? '').slice(0, MAX_MESSAGE_CHARS),
    url: event.url,
  };
}
