import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { CHROMIUM_FLAGS } from '../../src/actors/chromium.js';
import { loadConfig } from '../../src/config.js';

/** How the suite's viewer Chromium starts: a real Chromium that plays sessions as a user's would. */
export const viewerLaunchOptions = (userDataDir: string, extraArgs: string[] = []) => ({
  executablePath: loadConfig({}, process.env).chromiumPath,
  headless: true as const,
  ignoreDefaultArgs: ['--headless'],
  userDataDir,
  // A test tool of the suite's own (as root): not a castpool browser.
  args: [...CHROMIUM_FLAGS, '--no-sandbox', '--autoplay-policy=no-user-gesture-required', ...extraArgs],
  handleSIGINT: false,
  handleSIGTERM: false,
  handleSIGHUP: false,
  // Chromium's singleton socket directory goes under TMPDIR: inside the profile, it is removed with
  // the test root even when a test kills this browser (a unix socket path must stay under 108 bytes).
  env: { ...process.env, TMPDIR: userDataDir.length <= 60 ? userDataDir : (process.env.TMPDIR ?? '/tmp') },
});

/** The suite's one viewer Chromium (test/global-setup.ts), shared by every file: launched once. */
export async function launchSharedViewerChromium(root: string): Promise<Browser> {
  return puppeteer.launch({
    ...viewerLaunchOptions(mkdtempSync(join(root, 'viewer-shared-')), ['--remote-debugging-port=0']),
    pipe: false,
  });
}
