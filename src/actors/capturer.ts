import type { CDPSession } from 'puppeteer-core';

/** Evaluates `expression` in an extension document or worker, awaiting it; its exception's first line is the error. */
export async function evaluateIn(session: CDPSession, expression: string): Promise<unknown> {
  const { result, exceptionDetails } = await session.send('Runtime.evaluate', {
    expression,
    awaitPromise: true,
    returnByValue: true,
  });
  if (exceptionDetails)
    throw new Error(
      exceptionDetails.exception?.description?.split('\n')[0] ?? exceptionDetails.text ?? 'evaluation failed',
    );
  return result.value;
}

/**
 * castpool's handle on a context's capturer document (capture-extension/capturer.js): calls its
 * functions over a CDP session of castpool's own. Pages never see this document.
 */
export class Capturer {
  constructor(
    private readonly session: CDPSession,
    /** Asks the extension to close the document (it holds a renderer process). */
    private readonly closeDocument: () => Promise<void>,
  ) {}

  /** Calls `castpoolCapture[method](...args)` in the capturer and returns its JSON result. */
  async call(method: string, ...args: unknown[]): Promise<unknown> {
    return evaluateIn(
      this.session,
      `castpoolCapture.${method}(${args.map((arg) => JSON.stringify(arg)).join(', ')})`,
    );
  }

  /** Stops the capture `key`; the document closes when it captured nothing else. */
  async release(key: string): Promise<void> {
    const left = await this.call('stop', key).catch(() => 1);
    await this.session.detach().catch(() => {});
    if (left === 0) await this.closeDocument().catch(() => {});
  }
}
