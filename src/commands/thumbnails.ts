import { randomUUID } from 'node:crypto';
import { CastpoolError } from '../errors.js';
import type { SessionActorRef } from '../machines/session.machine.js';
import type { Castpool } from '../system.js';
import { askSession } from './ask-session.js';
import { liveSession } from './lookup.js';
import type { InputOf } from './operations.js';

/** A thumbnail is reused this long (the dashboard refreshes once a second). */
const THUMBNAIL_CACHE_MS = 800;
/** A screenshot and a resize take well under a second; a page that does not answer is not waited on. */
const THUMBNAIL_TIMEOUT_MS = 10_000;

/** JPEG thumbnails of live sessions, one picture per session and width per period; sessions' actors take them. */
export class Thumbnails {
  private readonly cache = new Map<string, { at: number; jpeg: Promise<Uint8Array> }>();

  constructor(private readonly castpool: Castpool) {}

  /** The smallest configured width at least `width` (never wider than the viewport). */
  async take({ id, width }: InputOf<'thumbnail'>): Promise<Uint8Array> {
    const { ref } = liveSession(this.castpool.pool, id);
    // A few fixed widths: any width as a cache key let a client make a resize per width, and 400
    // of them cost 15 s of CPU.
    const widths = this.castpool.config.limits.thumbnailWidths;
    const size = [...widths].sort((a, b) => a - b).find((w) => w >= width) ?? Math.max(...widths);
    // Dashboards ask every second, maybe several at once.
    const key = `${id}:${size}`;
    const now = Date.now();
    for (const [old, entry] of this.cache) if (now - entry.at > THUMBNAIL_CACHE_MS) this.cache.delete(old);
    let entry = this.cache.get(key);
    if (entry) this.castpool.metrics.thumbnails.inc({ source: 'cache' });
    else {
      entry = { at: now, jpeg: requestThumbnail(ref, size) };
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

/** Asks the session for a thumbnail and waits for it (its `thumbnail` actor takes the picture). */
function requestThumbnail(ref: SessionActorRef, width: number): Promise<Uint8Array> {
  const requestId = randomUUID();
  return askSession<Uint8Array>(
    ref,
    { type: 'thumbnail.request', requestId, width },
    {
      answer: (event) => {
        if (event.type !== 'thumbnail.taken' || event.requestId !== requestId) return undefined;
        return event.jpeg ? { value: event.jpeg } : { error: new Error(event.error ?? 'no picture') };
      },
      closed: () => new Error('the session closed'),
      late: () => new Error('the page did not give a picture in time'),
      timeoutMs: THUMBNAIL_TIMEOUT_MS,
    },
  );
}
