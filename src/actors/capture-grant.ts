import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, CDPSession, Target } from 'puppeteer-core';
import { Capturer, evaluateIn } from './capturer.js';

/** castpool's capture extension (src/actors/capture-extension): its id follows from the manifest key. */
export const CAPTURE_EXTENSION_ID = 'feldjenophlekdghpoaigjnhjigeecfn';
const SOURCE = new URL('./capture-extension/', import.meta.url).pathname;
const WORKER_URL = `chrome-extension://${CAPTURE_EXTENSION_ID}/worker.js`;
const CAPTURER_URL = `chrome-extension://${CAPTURE_EXTENSION_ID}/capturer.html`;
const FIND_WORKER_MS = 5000;
const EXTENSION_DIR = 'castpool-capture-extension';

/**
 * Chromium switches for capture: only castpool's extension may capture a tab without a gesture, and a
 * page's own `getDisplayMedia({preferCurrentTab})` is refused (a page that could capture itself could
 * frame a cross-origin page and read its pixels). A page's picker request has no picker headless.
 */
export const CAPTURE_FLAGS = [
  `--allowlisted-extension-id=${CAPTURE_EXTENSION_ID}`,
  '--auto-reject-this-tab-capture',
];

/**
 * Grants tab-capture streams to castpool's own capture, and to nothing else: castpool's extension is
 * loaded into every browser (enabled in its session contexts), and castpool alone asks its service
 * worker, over CDP, for a stream id bound to one tab. The id is then used once by the extension's
 * capturer document of that context (see capture-extension/capturer.js).
 */
export class CaptureGrant {
  private constructor(private readonly browser: Browser) {}

  /** Loads the extension `stage` copied into the profile, before any session context exists. */
  static async install(browser: Browser, profileDir: string): Promise<CaptureGrant> {
    const session = await browser.target().createCDPSession();
    try {
      const path = join(profileDir, EXTENSION_DIR);
      const { id } = (await session.send(
        'Extensions.loadUnpacked' as never,
        {
          path,
          enableInIncognito: true,
        } as never,
      )) as { id: string };
      if (id !== CAPTURE_EXTENSION_ID) throw new Error(`capture extension loaded as ${id}`);
    } finally {
      await session.detach().catch(() => {});
    }
    return new CaptureGrant(browser);
  }

  /** Copies the extension where the browser's user reads it, before launch hands the profile over. */
  static async stage(profileDir: string): Promise<void> {
    await cp(SOURCE, join(profileDir, EXTENSION_DIR), { recursive: true });
  }

  /**
   * A one-use stream id for the tab of target `targetId` in `context`; `pageSession` (a CDP session
   * of that tab) wakes the extension's worker when it was stopped while idle. castpool attaches only
   * for the call: a worker left alone stops after ~30 s and its process goes (~16 MB per watched
   * session when held, measured), at the price of a wake-up on a later capture restart.
   */
  async streamId(context: BrowserContext, targetId: string, pageSession: CDPSession): Promise<string> {
    const value = await this.callWorker(
      context,
      pageSession,
      `castpoolStreamFor(${JSON.stringify(targetId)})`,
    );
    if (typeof value !== 'string') throw new Error('capture grant refused: no stream id');
    return value;
  }

  /** The context's capturer document, opened if needed, with a CDP session of castpool's own on it. */
  async capturer(context: BrowserContext, pageSession: CDPSession): Promise<Capturer> {
    const isCapturer = (t: Target) => t.url() === CAPTURER_URL && t.browserContext() === context;
    let target = this.browser.targets().find(isCapturer);
    if (!target) {
      await this.callWorker(context, pageSession, 'castpoolOpenCapturer()');
      target = await this.browser.waitForTarget(isCapturer, { timeout: FIND_WORKER_MS });
    }
    return new Capturer(await target.createCDPSession(), () =>
      this.callWorker(context, pageSession, 'castpoolCloseCapturer()').then(() => undefined),
    );
  }

  private async callWorker(context: BrowserContext, pageSession: CDPSession, expression: string) {
    const session = await this.attach(context, pageSession);
    try {
      return await evaluateIn(session, expression).catch((error: Error) => {
        throw new Error(`capture grant refused: ${error.message}`);
      });
    } finally {
      await session.detach().catch(() => {});
    }
  }

  private async attach(context: BrowserContext, pageSession: CDPSession): Promise<CDPSession> {
    const isWorker = (t: Target) =>
      t.type() === 'service_worker' && t.url() === WORKER_URL && t.browserContext() === context;
    let target = this.browser.targets().find(isWorker);
    if (!target) {
      // An extension worker stops after ~30 s idle (a context kept warm, a session nobody watched).
      await pageSession.send('ServiceWorker.enable').catch(() => {});
      await pageSession
        .send('ServiceWorker.startWorker', { scopeURL: `chrome-extension://${CAPTURE_EXTENSION_ID}/` })
        .catch(() => {});
      target = await this.browser.waitForTarget(isWorker, { timeout: FIND_WORKER_MS });
    }
    return target.createCDPSession();
  }
}
