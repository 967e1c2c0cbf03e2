import sharp from 'sharp';
import type { PageHandle } from '../machines/types.js';
import type { SessionPage } from './page.js';

/**
 * A small JPEG of the session for lists and dashboards. While the session streams, the frame the
 * encoder last took is reused (no extra capture); otherwise Chromium takes one screenshot.
 * Decode and resize happen here, per request, never on the per-frame path.
 */
export async function captureThumbnail(handle: PageHandle, width: number): Promise<Buffer> {
  const page = handle as SessionPage;
  const source =
    page.latestFrame ??
    Buffer.from(
      (await page.cdp.send('Page.captureScreenshot', { format: 'jpeg', quality: 80, optimizeForSpeed: true }))
        .data,
      'base64',
    );
  return sharp(source).resize({ width, withoutEnlargement: true }).jpeg({ quality: 75 }).toBuffer();
}
