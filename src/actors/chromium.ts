import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { fromCallback, fromPromise } from 'xstate';
import type { BrowserHostInput, RenderHz } from '../machines/browser-host.machine.js';
import type { BrowserHandle } from '../machines/types.js';
import { chromiumGpuFlags, type Gpu } from '../processes/gpu.js';
import { handOver, launchAs } from './browser-user.js';
import { CAPTURE_FLAGS, CaptureGrant } from './capture-grant.js';
import type { ActorDeps } from './deps.js';
import { RequestGuard } from './request-guard.js';
import { WarmPage } from './warm-page.js';

/** Flags every castpool Chromium runs with; the network flags stop it calling home on a closed network. */
/** castpool's switches adjusted for the host's GPU (software rendering without one). */
function withGpu(flags: readonly string[], gpu: Gpu): string[] {
  const { remove, add } = chromiumGpuFlags(gpu);
  return [...flags.filter((flag) => !remove.includes(flag)), ...add];
}

export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--no-default-browser-check',
  // No --mute-audio (puppeteer's default is dropped at launch too): a muted tab gives its capture
  // silence. The speakers are ALSA's null device instead (see silentSpeakers).
  '--hide-scrollbars',
  // WebRtcHideLocalIpsWithMdns: real host candidates for the tab-capture strategy's loopback peer.
  // PreloadTopChromeWebUI, WebUIOmnibox*: every browser context otherwise preloads two omnibox-popup
  // WebUI renderers nobody sees in headless (~70 MB PSS per session, measured).
  '--disable-features=Translate,MediaRouter,OptimizationHints,WebRtcHideLocalIpsWithMdns,PreloadTopChromeWebUI,WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup',
  // Tab capture: only castpool's own extension grants it; a page's own request is refused.
  ...CAPTURE_FLAGS,
];

export class ChromiumBrowser implements BrowserHandle {
  readonly warmPage: WarmPage;
  constructor(
    readonly hostId: string,
    readonly browser: Browser,
    readonly pid: number,
    readonly userDataDir: string,
    warm: boolean,
    /** The URL policy on every request of every target (undefined when there is nothing to check). */
    readonly guard: RequestGuard | undefined,
    /** Tab-capture streams for castpool's own capture, from its extension. */
    readonly captureGrant: CaptureGrant,
  ) {
    this.warmPage = new WarmPage(browser, warm);
  }
}

/**
 * A host with a sound card must not play its sessions' pages aloud. The browser's HOME is its profile
 * directory, so this ALSA configuration sends castpool's browsers (and nothing else) to ALSA's null
 * device; a tab's sound still reaches its capture, which takes it before any output.
 */
async function silentSpeakers(home: string): Promise<void> {
  await writeFile(join(home, '.asoundrc'), 'pcm.!default { type null }\n');
}

/** Profile directories are named after the service PID so a successor can tell leftovers apart. */
export const profileDirName = (hostId: string) => `b-${process.pid}-${hostId}-${randomUUID().slice(0, 4)}`;

/**
 * A browser that composites at 30 Hz. Chromium's battery saver mode ("enabled" in the profile's Local
 * State) throttles every frame sink of the browser to 30 Hz: requestAnimationFrame, CSS animations and
 * the compositor run at half rate, timers and everything else as before. Measured: a capture at 30 FPS
 * gets the same frames for less compositing (BENCHMARKS.md, "render rate").
 */
async function composeAt(renderHz: RenderHz, userDataDir: string): Promise<void> {
  if (renderHz === 60) return;
  const batterySaverAlwaysOn = 3;
  const localState = { performance_tuning: { battery_saver_mode: { state: batterySaverAlwaysOn } } };
  await writeFile(join(userDataDir, 'Local State'), JSON.stringify(localState), { mode: 0o600 });
}

/** Chromium puts its singleton socket under TMPDIR; a unix socket path must stay under 108 bytes. */
const SOCKET_PATH_ROOM = 107 - '/.org.chromium.Chromium.XXXXXX/SingletonSocket'.length;

export function launchBrowserActor(deps: ActorDeps) {
  return fromPromise<BrowserHandle, BrowserHostInput>(async ({ input, signal }) => {
    try {
      return await launchOnce(deps, input, signal);
    } catch (error) {
      // No usable sandbox here (no user namespaces, a container's seccomp): the logged fallback.
      if (!deps.browserUser.sandbox || !/sandbox|namespace/i.test(String((error as Error).message)))
        throw error;
      deps.browserUser.sandbox = false;
      deps.log.warn(
        { err: error },
        'Chromium could not start sandboxed; every browser now runs with --no-sandbox',
      );
      return launchOnce(deps, input, signal);
    }
  });
}

async function launchOnce(
  deps: ActorDeps,
  { hostId, renderHz }: BrowserHostInput,
  signal: AbortSignal,
): Promise<ChromiumBrowser> {
  const userDataDir = join(deps.config.dataDir, profileDirName(hostId));
  // Its own TMPDIR inside the profile, so one removal takes everything this browser wrote.
  const tmpDir = join(userDataDir, 'tmp');
  await mkdir(tmpDir, { recursive: true, mode: 0o700 });
  let browser: Browser | undefined;
  try {
    await CaptureGrant.stage(userDataDir);
    await composeAt(renderHz, userDataDir);
    await silentSpeakers(userDataDir);
    await handOver(deps.browserUser, deps.config.dataDir, userDataDir);
    const how = launchAs(deps.browserUser, deps.config.chromiumPath, {
      home: userDataDir,
      tmp: tmpDir.length <= SOCKET_PATH_ROOM ? tmpDir : '/tmp',
    });
    browser = await puppeteer.launch({
      executablePath: how.executablePath,
      headless: true,
      pipe: true, // Chromium exits by itself when castpool dies and the pipe closes
      enableExtensions: true, // castpool's capture extension, loaded over the pipe below
      userDataDir,
      args: [...withGpu(CHROMIUM_FLAGS, deps.gpu), ...how.extraArgs, ...deps.config.chromiumArgs],
      // puppeteer's --mute-audio would silence every tab's capture (audio sessions hear nothing).
      ignoreDefaultArgs: ['--headless', '--mute-audio'],
      defaultViewport: null,
      handleSIGINT: false, // castpool owns shutdown; puppeteer would kill browsers before the drain
      handleSIGTERM: false,
      handleSIGHUP: false,
      timeout: deps.config.launchTimeoutMs,
      protocolTimeout: deps.config.launchTimeoutMs,
      signal,
      // Never castpool's own environment: it holds API tokens and NATS credentials.
      env: how.env,
    });
    const child = browser.process();
    if (!child?.pid) throw new Error('Chromium started without a process');
    deps.processes.track(child, 'chromium', hostId);
    // Before any page exists: its renderers are forked into the group too.
    deps.cpuGroups.place(hostId, child.pid);
    // Before any page exists: no request of this browser leaves unchecked, every context can capture.
    const guard = await RequestGuard.attach(browser, deps.urls);
    const captureGrant = await CaptureGrant.install(browser, userDataDir);
    deps.log.info(
      {
        hostId,
        pid: child.pid,
        renderHz,
        user: deps.browserUser.user?.name,
        sandbox: deps.browserUser.sandbox,
      },
      'browser launched',
    );
    return new ChromiumBrowser(
      hostId,
      browser,
      child.pid,
      userDataDir,
      deps.config.warmPage,
      guard,
      captureGrant,
    );
  } catch (error) {
    // A failed launch removes everything it created: no record exists yet to clean it up.
    const pid = browser?.process()?.pid;
    if (pid) await deps.processes.stop(pid, 500);
    deps.cpuGroups.remove(hostId);
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
}

export function watchBrowserActor() {
  return fromCallback<{ type: 'noop' }, { browser: BrowserHandle }>(({ input, sendBack }) => {
    const { browser } = input.browser as ChromiumBrowser;
    const onDisconnect = () => sendBack({ type: 'browser.disconnected' });
    browser.on('disconnected', onDisconnect);
    if (!browser.connected) onDisconnect();
    return () => browser.off('disconnected', onDisconnect);
  });
}

export function closeBrowserActor(deps: ActorDeps) {
  return fromPromise<void, { browser: BrowserHandle | undefined }>(async ({ input }) => {
    const handle = input.browser as ChromiumBrowser | undefined;
    if (!handle) return;
    handle.warmPage.close();
    // Graceful close first (flushes the profile), bounded; then the process group goes regardless.
    await Promise.race([
      handle.browser.close().catch(() => {}),
      new Promise((r) => setTimeout(r, 3000).unref()),
    ]);
    await deps.processes.stop(handle.pid, 1000);
    deps.cpuGroups.remove(handle.hostId);
    await rm(handle.userDataDir, { recursive: true, force: true, maxRetries: 3 });
    deps.log.info({ hostId: handle.hostId, pid: handle.pid }, 'browser closed');
  });
}
