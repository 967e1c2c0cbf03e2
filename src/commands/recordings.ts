import { randomUUID } from 'node:crypto';
import { CastpoolError, notFound } from '../errors.js';
import type { RecordingRecord } from '../machines/types.js';
import { recordingFormat } from '../media/recording-format.js';
import { DOWNLOAD_CHUNK_BYTES, type RecordingView } from '../schemas.js';
import type { Castpool } from '../system.js';
import { askSession } from './ask-session.js';
import { readPiece } from './file-piece.js';
import { liveSession, sessionEntry } from './lookup.js';
import type { InputOf, OutputOf } from './operations.js';

/** Starting waits for ffmpeg to be spawned (not for a keyframe); stopping for its index to be written. */
const ASK_TIMEOUT_MS = 20_000;

/**
 * Recordings of a session's stream: start and stop are events to the session (its recorder actors
 * write the files); the list is the session's state; a file is read piece by piece like a download.
 * Once the session ended (or after a restart) the node's archive answers for its kept recordings.
 */
export class Recordings {
  constructor(private readonly castpool: Castpool) {}

  async start({ id }: InputOf<'recording-start'>): Promise<OutputOf<'recording-start'>> {
    const { ref } = liveSession(this.castpool.pool, id);
    const { recordings } = this.castpool.config;
    if (recordings.maxMbPerSession === 0 || recordings.maxPerSession === 0)
      throw new CastpoolError(
        'forbidden',
        'recordings are turned off on this node (recordings.maxMbPerSession)',
      );
    if (this.castpool.recordingSpace.full)
      throw new CastpoolError(
        'insufficient_storage',
        `this node's recordings use their ${recordings.maxTotalMb} MiB: delete some first`,
      );
    const requestId = randomUUID();
    const recording = await askSession<RecordingRecord>(
      ref,
      { type: 'recording.start', requestId },
      {
        answer: (event) => {
          if (event.type === 'recording.accepted' && event.requestId === requestId)
            return { value: event.recording };
          if (event.type === 'recording.refused' && event.requestId === requestId)
            return {
              error: new CastpoolError(
                event.kind === 'storage' ? 'insufficient_storage' : 'conflict',
                event.reason,
                {
                  retryable: event.kind === 'conflict',
                },
              ),
            };
          return undefined;
        },
        closed: () => new CastpoolError('conflict', `session ${id} closed`),
        late: () => new CastpoolError('timeout', 'the session did not answer in time', { retryable: true }),
        timeoutMs: ASK_TIMEOUT_MS,
      },
    );
    return this.view(recording);
  }

  /** A running recording is finalised (answers once its file is complete); a finished one is deleted. */
  async stop({ id, recordingId }: InputOf<'recording-stop'>): Promise<OutputOf<'recording-stop'>> {
    const archived = this.archived(id, recordingId);
    if (archived) {
      await this.castpool.recordingArchive.remove(id, recordingId);
      return { recording: this.view(archived), removed: true };
    }
    const { ref } = sessionEntry(this.castpool.pool, id);
    const requestId = randomUUID();
    const { recording, removed } = await askSession<{ recording: RecordingRecord; removed: boolean }>(
      ref,
      { type: 'recording.stop', requestId, recordingId },
      {
        answer: (event) => {
          if (event.type === 'recording.stopped' && event.requestId === requestId)
            return { value: { recording: event.recording, removed: event.removed } };
          if (event.type === 'recording.refused' && event.requestId === requestId)
            return {
              error: new CastpoolError(event.kind === 'not_found' ? 'not_found' : 'conflict', event.reason),
            };
          return undefined;
        },
        closed: () => new CastpoolError('conflict', `session ${id} closed`),
        late: () =>
          new CastpoolError('timeout', 'the recording was not finalised in time', { retryable: true }),
        timeoutMs: ASK_TIMEOUT_MS,
      },
    );
    return { recording: this.view(recording), removed };
  }

  list({ id }: InputOf<'recordings'>): OutputOf<'recordings'> {
    const { recordings } = this.castpool.config;
    const kept =
      this.castpool.recordingArchive.list(id) ??
      sessionEntry(this.castpool.pool, id).ref.getSnapshot().context.recordings;
    return {
      recordings: kept.map((recording) => this.view(recording)),
      limits: {
        maxBytesPerSession: recordings.maxMbPerSession * 1024 * 1024,
        maxPerSession: recordings.maxPerSession,
        retentionHours: recordings.retentionHours,
      },
    };
  }

  /** A piece of a completed recording (the REST route streams it piece by piece, from any node). */
  async file({
    id,
    recordingId,
    offset = 0,
    length = DOWNLOAD_CHUNK_BYTES,
  }: InputOf<'recording'>): Promise<Uint8Array> {
    const recording =
      this.archived(id, recordingId) ??
      sessionEntry(this.castpool.pool, id)
        .ref.getSnapshot()
        .context.recordings.find((r) => r.id === recordingId);
    if (!recording) throw notFound(`recording ${recordingId}`);
    if (recording.state !== 'completed')
      throw new CastpoolError('conflict', `recording ${recordingId} is ${recording.state}`, {
        retryable: recording.state !== 'failed',
      });
    // The id was checked by the request schema and found in the session's own list (or the archive's).
    const path = this.castpool.recordingArchive.path(id, recording);
    return readPiece(path, recording.bytes, offset, length);
  }

  /** Whether the node keeps recordings of this session that ended (or of an earlier run). */
  keeps(id: string): boolean {
    return this.castpool.recordingArchive.has(id);
  }

  /** A kept recording of an ended session; 404 when the session ended without keeping that one. */
  private archived(id: string, recordingId: string): RecordingRecord | undefined {
    const kept = this.castpool.recordingArchive.list(id);
    if (!kept) return undefined;
    const recording = kept.find((r) => r.id === recordingId);
    if (!recording) throw notFound(`recording ${recordingId}`);
    return recording;
  }

  private view(recording: RecordingRecord): RecordingView {
    const retentionMs = this.castpool.config.recordings.retentionHours * 3600_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      id: recording.id,
      state: recording.state,
      codec: recording.codec,
      contentType: recordingFormat(recording.codec).mimeType,
      bytes: recording.bytes,
      startedAt: iso(recording.startedAt),
      ...(recording.endedAt !== undefined
        ? { endedAt: iso(recording.endedAt), expiresAt: iso(recording.endedAt + retentionMs) }
        : {}),
      ...(recording.reason ? { reason: recording.reason } : {}),
    };
  }
}
