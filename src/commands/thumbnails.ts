import { captureThumbnail } from '../actors/thumbnail.js';
import { CastpoolError } from '../errors.js';
import type { Castpool } from '../system.js';
import { liveSession } from './lookup.js';
import type { InputOf } from './operations.js';

/** A thumbnail is reused this long (the dashboard refreshes once a second). */
const THUMBNAIL_CACHE_MS = 800;

/** JPEG thumbnails of live sessions, one picture per session and width per period. */
export class Thumbnails {
  private readonly cache = new Map<string, { at: number; jpeg: Promise<Buffer> }>();

  constructor(private readonly castpool: Castpool) {}

  /** The smallest configured width at least `width` (never wider than the viewport). */
  async take({ id, width }: InputOf<'thumbnail'>): Promise<Uint8Array> {
    const { ref } = liveSession(this.castpool.pool, id);
    const { page } = ref.getSnapshot().context;
    if (!page) throw new CastpoolError('conflict', `session ${id} has no page`);
    // A few fixed widths: any width as a cache key let a client make a resize per width, and 400
    // of them cost 15 s of CPU.
    const widths = this.castpool.config.limits.thumbnailWidths;
    const size = [...widths].sort((a, b) => a - b).find((w) => w >= width) ?? Math.max(...widths);
    // Dashboards ask every second, maybe several at once.
    const key = `${id}:${size}`;
    const now = Date.now();
    for (const [old, entry] of this.cache) if (now - entry.at > THUMBNAIL_CACHE_MS) this.cache.delete(old);
    const { thumbnails: counter } = this.castpool.metrics;
    let entry = this.cache.get(key);
    if (entry) counter.inc({ source: 'cache' });
    else {
      entry = { at: now, jpeg: captureThumbnail(page, size, (source) => counter.inc({ source })) };
      this.cache.set(key, entry);
      entry.jpeg.catch(() => this.cache.delete(key));
    }
    try {
      return await entry.jpeg;
    } catch (error) {
      throw new CastpoolError('conflict', `no thumbnail now: ${(error as Error).message}`, {
        retryable: true,
      });
    }
  }
}
