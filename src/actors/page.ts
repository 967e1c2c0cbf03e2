import type { BrowserContext, CDPSession, Cookie, Page, Protocol } from 'puppeteer-core';
import { fromPromise } from 'xstate';
import type { SiteCredentials } from '../access/site-credentials.js';
import type { OpenPageInput, SavedPage } from '../machines/session.machine.js';
import type { PageDialog, PageHandle, SessionParams, Viewport } from '../machines/types.js';
import { AudioFanout } from '../media/audio-fanout.js';
import { RtpFanout } from '../media/rtp-fanout.js';
import { settledWithin } from '../settled-within.js';
import type { CaptureGrant } from './capture-grant.js';
import type { ChromiumBrowser } from './chromium.js';
import type { ActorDeps } from './deps.js';
import { pageDialogOf } from './page-dialog.js';
import type { RequestGuard } from './request-guard.js';
import { SessionWindow } from './session-window.js';
import { answerSignIns } from './sign-in.js';

/**
 * One tab of a session: its page in the session's own browser context, with the fan-out the capture
 * feeds and the viewers read (one per session, shared by its tabs) and the set of the session's tabs.
 */
export class SessionPage implements PageHandle {
  /** The JavaScript dialog this tab shows now (followed for the tab's whole life, active or not). */
  openDialog: PageDialog | undefined;
  /** The frame the encoder took last, while a capture runs (thumbnails reuse it). */
  latestFrame: Buffer | undefined;
  /** Encoders running for this session now (ffmpeg processes or in-page tab captures): one, whatever the viewers. */
  encoders = 0;
  /** The navigation running now: the next waits for it, so one load cannot be taken for another's. */
  navigation: Promise<unknown> = Promise.resolve();
  constructor(
    readonly sessionId: string,
    /** The page's main frame (its target id): the request guard's refusals are filed under it. */
    readonly frameId: string,
    /** The browser's request guard, when the URL policy checks requests. */
    readonly guard: RequestGuard | undefined,
    /** Where castpool's own tab capture gets its stream ids. */
    readonly captureGrant: CaptureGrant,
    readonly context: BrowserContext,
    readonly page: Page,
    readonly cdp: CDPSession,
    /** Changed by a controlling viewer's resize. */
    public viewport: Viewport,
    /** Carried over from the page a restart replaced, so attached viewers keep their stream. */
    readonly fanout: RtpFanout = new RtpFanout(),
    /** The session's sound (audio sessions' tab capture), carried over like the picture. */
    readonly audio: AudioFanout = new AudioFanout(),
    /** Every open tab of the session, this one included (shared by them). */
    readonly tabs: Set<SessionPage>,
    /** The window the session's tabs share: shown while watched, minimized otherwise. */
    readonly window: SessionWindow,
  ) {
    tabs.add(this);
  }
}

/** What a new tab takes from the session: its settings, its browser, and what its tabs share. */
export interface TabSetting {
  sessionId: string;
  params: SessionParams;
  viewport: Viewport;
  /** Where the browser's request guard and capture grant are (the browser, or another tab of it). */
  browser: Pick<SessionPage, 'guard' | 'captureGrant'>;
  context: BrowserContext;
  fanout?: RtpFanout;
  audio?: AudioFanout;
  /** The session's other tabs and their window (a new tab joins them); absent: a first tab. */
  window?: { tabs: Set<SessionPage>; window: SessionWindow };
}

/**
 * Makes a page a tab of the session: its viewport and geolocation, certificate errors ignored if the
 * session says so, HTTP sign-ins answered from the session's credentials, and its dialogs followed.
 */
export async function prepareTab(
  deps: ActorDeps,
  credentials: SiteCredentials,
  page: Page,
  setting: TabSetting,
): Promise<SessionPage> {
  const { params } = setting;
  await page.setViewport(setting.viewport);
  if (params.geolocation) await page.setGeolocation({ accuracy: 10, ...params.geolocation });
  const cdp = await page.createCDPSession();
  // Set on the session castpool keeps for the page's life: it holds for every load of this tab.
  if (params.ignoreHttpsErrors) await cdp.send('Security.setIgnoreCertificateErrors', { ignore: true });
  await answerSignIns(deps, credentials, setting.sessionId, cdp);
  const { frameTree } = await cdp.send('Page.getFrameTree');
  const tabs = setting.window?.tabs ?? new Set<SessionPage>();
  const tab = new SessionPage(
    setting.sessionId,
    frameTree.frame.id,
    setting.browser.guard,
    setting.browser.captureGrant,
    setting.context,
    page,
    cdp,
    setting.viewport,
    setting.fanout,
    setting.audio,
    tabs,
    setting.window?.window ?? new SessionWindow(tabs, params.unwatched === 'hidden'),
  );
  cdp.on('Page.javascriptDialogOpening', (event: Protocol.Page.JavascriptDialogOpeningEvent) => {
    tab.openDialog = pageDialogOf(event);
  });
  cdp.on('Page.javascriptDialogClosed', () => {
    tab.openDialog = undefined;
  });
  page.once('close', () => tab.tabs.delete(tab));
  // Dialog events come only to sessions that enabled the Page domain.
  await cdp.send('Page.enable');
  return tab;
}

export function openPageActor(deps: ActorDeps, credentials: SiteCredentials) {
  return fromPromise<PageHandle, OpenPageInput>(async ({ input, signal }) => {
    const browser = input.browser as ChromiumBrowser;
    // A proxied session needs a context of its own (Chromium sets the proxy per context): no spare.
    const { context, page } = input.params.proxy
      ? await proxiedBlank(browser, input.params.proxy)
      : await browser.warmPage.take();
    try {
      await grantPermissions(context, input.params);
      const previous = input.previous as SessionPage | undefined;
      const handle = await prepareTab(deps, credentials, page, {
        sessionId: input.sessionId,
        params: input.params,
        viewport: input.params.viewport,
        browser: { guard: browser.guard, captureGrant: browser.captureGrant },
        context,
        fanout: previous?.fanout,
        audio: previous?.audio,
      });
      // Nobody watches a page that just opened: its window is minimized until someone does.
      await handle.window.apply();
      if (input.restore) await restorePage(page, input.restore);
      // Leaving `launching` (close, crash) aborts us: nothing else would ever close this context.
      if (signal.aborted) throw new Error('session closed while opening');
      return handle;
    } catch (error) {
      await context.close().catch(() => {});
      throw error;
    }
  });
}

/** A blank page in a new context whose requests go through the session's proxy. */
async function proxiedBlank(
  browser: ChromiumBrowser,
  proxy: NonNullable<SessionParams['proxy']>,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.browser.createBrowserContext({
    proxyServer: proxy.server,
    proxyBypassList: proxy.bypass,
  });
  try {
    return { context, page: await context.newPage() };
  } catch (error) {
    await context.close().catch(() => {});
    throw error;
  }
}

/** The session's grants, on every origin of its context; a page's other requests stay denied. */
async function grantPermissions(context: BrowserContext, params: SessionParams): Promise<void> {
  for (const name of params.permissions)
    await context.setPermission('*', { permission: { name }, state: 'granted' });
}

/** What a hibernated session keeps: enough to look the same when it resumes. */
export interface SavedSessionPage extends SavedPage {
  cookies: Cookie[];
  origin: string;
  localStorage: Record<string, string>;
  sessionStorage: Record<string, string>;
  scroll: [number, number];
}

/** Saves URL, cookies, storage and scroll, then closes the context: a hibernated session holds no renderer. */
export function hibernatePageActor(deps: ActorDeps) {
  return fromPromise<SavedPage, { page: PageHandle }>(async ({ input }) => {
    const handle = input.page as SessionPage;
    const started = performance.now();
    try {
      const saved = await readPageState(handle);
      deps.log.info(
        { sessionId: handle.sessionId, ms: Math.round(performance.now() - started) },
        'page state saved, context closing',
      );
      return saved;
    } finally {
      // A close can race a navigation the page makes itself and never end (crbug.com/536385539).
      await settledWithin(handle.context.close(), 5000);
    }
  });
}

/** The session's cookies (its whole context) and its active page's URL, storage and scroll. */
export async function readPageState(handle: SessionPage): Promise<SavedSessionPage> {
  const cookies = await handle.context.cookies();
  const state = await handle.page.evaluate(() => ({
    url: location.href,
    origin: location.origin,
    localStorage: { ...localStorage },
    sessionStorage: { ...sessionStorage },
    scroll: [scrollX, scrollY] as [number, number],
  }));
  return { ...state, cookies };
}

/** Cookies first, storage injected before the page's own scripts run, scroll once loaded. */
async function restorePage(page: Page, restore: SavedPage): Promise<void> {
  // A hibernation whose save failed (the page was navigating or gone) kept only the URL.
  if (!('cookies' in restore)) return;
  const saved = restore as SavedSessionPage;
  if (saved.cookies.length > 0) await page.browserContext().setCookie(...saved.cookies);
  await page.evaluateOnNewDocument(
    (
      origin: string,
      local: Record<string, string>,
      session: Record<string, string>,
      scroll: [number, number],
    ) => {
      if (location.origin !== origin) return;
      for (const [key, value] of Object.entries(local)) localStorage.setItem(key, value);
      for (const [key, value] of Object.entries(session)) sessionStorage.setItem(key, value);
      addEventListener('load', () => scrollTo(scroll[0], scroll[1]), { once: true });
    },
    saved.origin,
    saved.localStorage,
    saved.sessionStorage,
    saved.scroll,
  );
}

export function closePageActor(deps: ActorDeps) {
  return fromPromise<void, { page: PageHandle | undefined }>(async ({ input }) => {
    const handle = input.page as SessionPage | undefined;
    if (!handle) return;
    // A dead browser never answers; do not hang the close path on it.
    await settledWithin(handle.context.close(), 5000);
    deps.log.debug({ sessionId: handle.sessionId }, 'page closed');
  });
}
