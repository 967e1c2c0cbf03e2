import type { SessionActorRef } from '../machines/session.machine.js';
import type { SessionEmitted, SessionEvent } from '../machines/session.types.js';

/** How an emitted event settles a question: with a value, with an error, or not at all (not ours). */
export type Answer<T> = { value: T } | { error: Error } | undefined;

export interface AskOptions<T> {
  /** Reads each event the session emits; the first one that answers settles the question. */
  answer: (event: SessionEmitted) => Answer<T>;
  /** The session stopped before answering. */
  closed: () => Error;
  /** Nobody answered within `timeoutMs`. */
  late: () => Error;
  timeoutMs: number;
}

/**
 * Sends a request to a session and waits for the event it emits in reply (the session's actors do
 * the work; the command layer only asks). Listeners and the timer are removed however it ends.
 */
export function askSession<T>(
  ref: SessionActorRef,
  request: SessionEvent,
  options: AskOptions<T>,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const emitted = ref.on('*', (event) => {
      const answer = options.answer(event);
      if (!answer) return;
      finish();
      if ('value' in answer) resolve(answer.value);
      else reject(answer.error);
    });
    const stopped = ref.subscribe({
      complete: () => {
        finish();
        reject(options.closed());
      },
    });
    const timer = setTimeout(() => {
      finish();
      reject(options.late());
    }, options.timeoutMs);
    function finish() {
      clearTimeout(timer);
      emitted.unsubscribe();
      stopped.unsubscribe();
    }
    ref.send(request);
  });
}
