import sharp from 'sharp';
import { fromCallback } from 'xstate';
import type { PageHandle } from '../machines/types.js';
import type { ActorDeps } from './deps.js';
import type { SessionPage } from './page.js';

/**
 * One thumbnail asked of a live session: reports `thumbnail.done` with the JPEG or the reason there is
 * none. Stopped early (the session closed), its result goes nowhere.
 */
export function thumbnailActor(deps: ActorDeps) {
  return fromCallback<{ type: 'noop' }, { page: PageHandle; requestId: string; width: number }>(
    ({ input, sendBack }) => {
      const { requestId } = input;
      let stopped = false;
      captureThumbnail(
        input.page,
        input.width,
        (source) => deps.metrics.thumbnails.inc({ source }),
        (attempt) => deps.log.warn({ requestId, attempt }, 'thumbnail screenshot unanswered; retrying'),
      ).then(
        (jpeg) => {
          if (!stopped) sendBack({ type: 'thumbnail.done', requestId, jpeg });
        },
        (error: Error) => {
          if (!stopped) sendBack({ type: 'thumbnail.done', requestId, error: error.message });
        },
      );
      return () => {
        stopped = true;
      };
    },
  );
}

/**
 * A small JPEG of the session for lists and dashboards. While the session streams, the frame the
 * encoder last took is reused (no extra capture); otherwise Chromium takes one screenshot.
 * Decode and resize happen here, per request, never on the per-frame path.
 */
export async function captureThumbnail(
  handle: PageHandle,
  width: number,
  counted?: (source: 'frame' | 'screenshot') => void,
  onSlow?: (attempt: number) => void,
): Promise<Buffer> {
  const page = handle as SessionPage;
  counted?.(page.latestFrame ? 'frame' : 'screenshot');
  const source = page.latestFrame ?? (await shownWhile(page, () => screenshot(page, onSlow)));
  return sharp(source).resize({ width, withoutEnlargement: true }).jpeg({ quality: 75 }).toBuffer();
}

/** A page draws only while its window is shown: the window is held shown for the screenshot. */
async function shownWhile<T>(page: SessionPage, work: () => Promise<T>): Promise<T> {
  const release = page.window.hold();
  try {
    await page.window.apply();
    return await work();
  } finally {
    release();
  }
}

/** One screenshot normally takes tens of milliseconds; one that takes longer than this is not waited on. */
const SCREENSHOT_ATTEMPT_MS = 2_500;

/**
 * A screenshot can fail while the page commits a navigation, and Chromium can leave one unanswered
 * (it waits for a compositor frame that a busy or background page does not produce): try a few
 * times, each bounded, bringing the page to the front before a retry.
 */
async function screenshot(
  page: SessionPage,
  onSlow?: (attempt: number) => void,
  attempts = 3,
): Promise<Buffer> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { data } = await bounded(
        page.cdp.send('Page.captureScreenshot', { format: 'jpeg', quality: 80, optimizeForSpeed: true }),
        SCREENSHOT_ATTEMPT_MS,
      );
      return Buffer.from(data, 'base64');
    } catch (error) {
      if (attempt >= attempts) throw error;
      if (error instanceof ScreenshotTimeout) {
        onSlow?.(attempt);
        await page.cdp.send('Page.bringToFront').catch(() => undefined);
      } else await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

class ScreenshotTimeout extends Error {
  constructor(ms: number) {
    super(`the page gave no screenshot within ${ms} ms`);
  }
}

function bounded<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ScreenshotTimeout(ms)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
