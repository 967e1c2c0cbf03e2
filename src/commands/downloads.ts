import { join } from 'node:path';
import { downloadsDir } from '../actors/downloads.js';
import { CastpoolError, notFound } from '../errors.js';
import { DOWNLOAD_CHUNK_BYTES } from '../schemas.js';
import type { Castpool } from '../system.js';
import { readPiece } from './file-piece.js';
import { sessionEntry } from './lookup.js';
import type { InputOf, OutputOf } from './operations.js';

/** What a session's pages downloaded: the list (from the session's state) and each completed file. */
export class Downloads {
  constructor(private readonly castpool: Castpool) {}

  list({ id }: InputOf<'downloads'>): OutputOf<'downloads'> {
    const { downloads } = sessionEntry(this.castpool.pool, id).ref.getSnapshot().context;
    return {
      downloads: downloads.map(({ startedAt, ...download }) => ({
        ...download,
        startedAt: new Date(startedAt).toISOString(),
      })),
    };
  }

  /** A piece of a completed download (the REST route streams a file piece by piece, from any node). */
  async file({
    id,
    downloadId,
    offset = 0,
    length = DOWNLOAD_CHUNK_BYTES,
  }: InputOf<'download'>): Promise<Uint8Array> {
    const { downloads } = sessionEntry(this.castpool.pool, id).ref.getSnapshot().context;
    const download = downloads.find((d) => d.id === downloadId);
    if (!download) throw notFound(`download ${downloadId}`);
    if (download.state !== 'completed')
      throw new CastpoolError('conflict', `download ${downloadId} is ${download.state}`, {
        retryable: download.state === 'in-progress',
      });
    // The id is Chromium's, checked by the request schema and found in the session's own list.
    return readPiece(
      join(downloadsDir(this.castpool.config.dataDir, id), download.id),
      download.bytes,
      offset,
      length,
    );
  }
}
