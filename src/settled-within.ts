/**
 * Waits for a promise to settle, at most `ms`, for callers that need only to stop waiting: a browser
 * that may be dead, a renderer that may be hung, a server that may never answer. Its outcome is
 * ignored (a rejection included); the timer does not keep the process alive.
 */
export function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms).unref();
  });
  return Promise.race([promise.then(noop, noop), late]).finally(() => clearTimeout(timer));
}

const noop = () => {};
