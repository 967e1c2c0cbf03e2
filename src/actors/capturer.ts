import type { CDPSession } from 'puppeteer-core';

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
    const { result, exceptionDetails } = await this.session.send('Runtime.evaluate', {
      expression: `castpoolCapture.${method}(${args.map((arg) => JSON.stringify(arg)).join(', ')})`,
      awaitPromise: true,
      returnByValue: true,
    });
    if (exceptionDetails)
      throw new Error(
        exceptionDetails.exception?.description?.split('\n')[0] ??
          exceptionDetails.text ??
          'capturer call failed',
      );
    return result.value;
  }

  /** Stops the capture `key`; the document closes when it captured nothing else. */
  async release(key: string): Promise<void> {
    const left = await this.call('stop', key).catch(() => 1);
    await this.session.detach().catch(() => {});
    if (left === 0) await this.closeDocument().catch(() => {});
  }
}
