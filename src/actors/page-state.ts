import { fromCallback } from 'xstate';
import type { SavedPage } from '../machines/session.types.js';
import { failureSentence } from '../machines/session.types.js';
import type { PageHandle } from '../machines/types.js';
import { readPageState, type SessionPage } from './page.js';

/** A read during a navigation fails (its document went): tried again this many times, this far apart. */
const ATTEMPTS = 4;
const RETRY_MS = 250;

async function readWithRetries(page: SessionPage): Promise<SavedPage> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readPageState(page);
    } catch (error) {
      if (attempt >= ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}

/** Reading cookies and storage takes milliseconds; a page that does not answer is not waited on. */
const READ_TIMEOUT_MS = 10_000;

/**
 * One read of a live session's state (what hibernation saves: cookies, the page's storage), asked
 * for a saved context: reports `state.done` with it or the reason there is none. The page stays open.
 */
export function pageStateActor() {
  return fromCallback<{ type: 'noop' }, { page: PageHandle; requestId: string }>(({ input, sendBack }) => {
    const { requestId } = input;
    let stopped = false;
    const timer = setTimeout(() => {
      stopped = true;
      sendBack({ type: 'state.done', requestId, error: 'the page did not give its state in time' });
    }, READ_TIMEOUT_MS);
    readWithRetries(input.page as SessionPage).then(
      (state: SavedPage) => {
        if (!stopped) sendBack({ type: 'state.done', requestId, state });
      },
      (error: unknown) => {
        if (!stopped) sendBack({ type: 'state.done', requestId, error: failureSentence(error) });
      },
    );
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  });
}
