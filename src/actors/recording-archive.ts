import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { RecordingRecord } from '../machines/types.js';
import { recordingFormat } from '../media/recording-format.js';
import { isRunning } from '../processes/leftovers.js';
import type { RecordingSpace } from './recording-space.js';

const SESSION_DIR = /^[A-Za-z0-9_-]{1,64}$/;
const MEDIA_FILE = /^(rec-\d{1,6})\.(mkv|webm)$/;
/** The process that records into a session's folder; a folder whose owner runs is not ours to touch. */
const OWNER_FILE = 'owner';
/** Marks a folder whose session ended: its recordings are this archive's to serve and expire. */
const ENDED_FILE = 'ended';
/** How often finished recordings of ended sessions are checked against their retention time. */
const SWEEP_MS = 60_000;

/** A finished recording's record beside its file (`rec-1.json`): read back after a restart. */
const StoredRecording = Type.Object(
  {
    id: Type.String({ pattern: '^rec-\\d{1,6}$' }),
    state: Type.Union([Type.Literal('completed'), Type.Literal('failed')]),
    codec: Type.Union([Type.Literal('H264'), Type.Literal('VP8')]),
    bytes: Type.Integer({ minimum: 0 }),
    startedAt: Type.Number(),
    endedAt: Type.Number(),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);
type StoredRecording = Static<typeof StoredRecording>;

/**
 * Recordings outlive their session: files under `<dataDir>/recordings/<session>/` with a record beside
 * each, kept until their retention time is over or a client deletes them, across restarts of the
 * node. While the session lives its machine answers for them; once it ended (or after a restart) this
 * archive does: list, download, delete, expiry. A folder another running castpool records into (a
 * shared dataDir) is left alone.
 */
export class RecordingArchive {
  /** Ended sessions' finished recordings, by session. */
  private readonly ended = new Map<string, Map<string, StoredRecording>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly retentionMs: number,
    private readonly space: RecordingSpace,
    private readonly now: () => number = Date.now,
  ) {}

  get root(): string {
    return join(this.dataDir, 'recordings');
  }

  dir(sessionId: string): string {
    return join(this.root, sessionId);
  }

  path(sessionId: string, recording: Pick<RecordingRecord, 'id' | 'codec'>): string {
    return join(this.dir(sessionId), `${recording.id}.${recordingFormat(recording.codec).extension}`);
  }

  /** The session's folder, marked as this process's while its session lives. */
  prepare(sessionId: string): string {
    const dir = this.dir(sessionId);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, OWNER_FILE), String(process.pid), { mode: 0o600 });
    return dir;
  }

  /** At start: what earlier runs kept (and a killed one left mid-recording), then the retention sweep. */
  load(): { sessions: number; recordings: number } {
    let recordings = 0;
    let names: string[] = [];
    try {
      names = readdirSync(this.root);
    } catch {
      // no recordings yet
    }
    for (const sessionId of names) {
      if (!SESSION_DIR.test(sessionId) || this.ownedElsewhere(sessionId)) continue;
      const kept = this.readSession(sessionId, true);
      if (kept.size === 0) {
        rmSync(this.dir(sessionId), { recursive: true, force: true }); // nothing writes at start
        continue;
      }
      this.ended.set(sessionId, kept);
      writeFileSync(join(this.dir(sessionId), ENDED_FILE), '');
      for (const recording of kept.values()) this.space.set(sessionId, recording.id, recording.bytes);
      recordings += kept.size;
    }
    this.sweep();
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
    return { sessions: this.ended.size, recordings };
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** A recording's file is final (written by its recorder): its record goes beside it. */
  finished(sessionId: string, recording: RecordingRecord): void {
    if (recording.state !== 'completed' && recording.state !== 'failed') return;
    const stored: StoredRecording = {
      id: recording.id,
      state: recording.state,
      codec: recording.codec,
      bytes: recording.bytes,
      startedAt: recording.startedAt,
      endedAt: recording.endedAt ?? this.now(),
      ...(recording.reason ? { reason: recording.reason.slice(0, 500) } : {}),
    };
    try {
      writeFileSync(join(this.dir(sessionId), `${recording.id}.json`), JSON.stringify(stored), {
        mode: 0o600,
      });
    } catch {
      return; // the folder is gone: the recording was deleted meanwhile
    }
    this.ended.get(sessionId)?.set(recording.id, stored);
  }

  /** The session ended: its kept recordings are served from here now (a finalising one joins them). */
  release(sessionId: string): void {
    const kept = this.readSession(sessionId);
    try {
      writeFileSync(join(this.dir(sessionId), ENDED_FILE), '');
    } catch {
      return; // it never recorded
    }
    this.ended.set(sessionId, kept);
  }

  /** An ended session's recordings (undefined when none are kept here). */
  list(sessionId: string): StoredRecording[] | undefined {
    const kept = this.ended.get(sessionId);
    return kept && [...kept.values()].sort((a, b) => a.startedAt - b.startedAt);
  }

  has(sessionId: string): boolean {
    return this.ended.has(sessionId);
  }

  /** Removes a recording's file and record (a client's delete, or its retention is over). */
  async remove(sessionId: string, recordingId: string): Promise<void> {
    const dir = this.dir(sessionId);
    for (const name of [`${recordingId}.mkv`, `${recordingId}.webm`, `${recordingId}.json`])
      await rm(join(dir, name), { force: true });
    this.space.remove(sessionId, recordingId);
    const kept = this.ended.get(sessionId);
    kept?.delete(recordingId);
    if (kept?.size === 0) {
      this.ended.delete(sessionId);
      await this.removeEmptyDir(sessionId);
    }
  }

  /** Ended sessions' recordings past their retention time go. */
  sweep(): void {
    const now = this.now();
    for (const [sessionId, kept] of this.ended)
      for (const recording of kept.values())
        if (recording.endedAt + this.retentionMs <= now) void this.remove(sessionId, recording.id);
  }

  private ownedElsewhere(sessionId: string): boolean {
    try {
      const owner = Number(readFileSync(join(this.dir(sessionId), OWNER_FILE), 'utf8'));
      const ended = statSync(join(this.dir(sessionId), ENDED_FILE), { throwIfNoEntry: false });
      return !ended && owner > 0 && owner !== process.pid && isRunning(owner);
    } catch {
      return false;
    }
  }

  /**
   * The folder's recordings as their records say; with `orphans`, also files a killed recorder left
   * without one (at start: while castpool runs, such a file is still being finalised).
   */
  private readSession(sessionId: string, orphans = false): Map<string, StoredRecording> {
    const kept = new Map<string, StoredRecording>();
    let names: string[] = [];
    try {
      names = readdirSync(this.dir(sessionId));
    } catch {
      return kept;
    }
    for (const name of names) {
      const media = MEDIA_FILE.exec(name);
      if (!media) continue;
      const [, id = '', extension] = media;
      const file = statSync(join(this.dir(sessionId), name));
      let stored: unknown;
      try {
        stored = JSON.parse(readFileSync(join(this.dir(sessionId), `${id}.json`), 'utf8'));
      } catch {
        stored = undefined;
      }
      // The size on disk, whatever the record says: it is what a download reads.
      if (Value.Check(StoredRecording, stored) && stored.id === id)
        kept.set(id, { ...stored, bytes: file.size });
      else if (orphans && file.size > 0)
        kept.set(id, {
          id,
          state: 'completed',
          codec: extension === 'webm' ? 'VP8' : 'H264',
          bytes: file.size,
          startedAt: file.birthtimeMs || file.mtimeMs,
          endedAt: file.mtimeMs,
          reason: 'castpool stopped while recording: the file may not seek',
        });
    }
    return kept;
  }

  /** The folder goes once nothing but its markers is in it (a recorder may still write into it). */
  private async removeEmptyDir(sessionId: string): Promise<void> {
    const dir = this.dir(sessionId);
    const left = await readdir(dir).catch(() => []);
    if (left.some((name) => name !== OWNER_FILE && name !== ENDED_FILE)) return;
    await rm(dir, { recursive: true, force: true });
  }
}
