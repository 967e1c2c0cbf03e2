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
      captureThumbnail(input.page, input.width, (source) => deps.metrics.thumbnails.inc({ source })).then(
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
): Promise<Buffer> {
  const page = handle as SessionPage;
  counted?.(page.latestFrame ? 'frame' : 'screenshot');
  const source = page.latestFrame ?? (await screenshot(page));
  return sharp(source).resize({ width, withoutEnlargement: true }).jpeg({ quality: 75 }).toBuffer();
}

/** A screenshot can fail while the page commits a navigation: try a few times before giving up. */
async function screenshot(page: SessionPage, attempts = 3): Promise<Buffer> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { data } = await page.cdp.send('Page.captureScreenshot', {
        format: 'jpeg',
        quality: 80,
        optimizeForSpeed: true,
      });
      return Buffer.from(data, 'base64');
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
