/**
 * The rules a session's recordings follow, pure: whether another may start (one runs at a time, within
 * the session's count and bytes), which codec it records, and what it may still write. The session
 * machine's guards and actions use them; the node-wide total is the recorder actors' (RecordingSpace).
 */
import { isRecording, type RecordingLimits, type SessionContext, watcherCount } from './session.types.js';
import type { Codec, RecordingRecord } from './types.js';

type RecordingsView = Pick<SessionContext, 'recordings' | 'recordingLimits'>;

/** Bytes the session's recordings take on disk now. */
export function recordedBytes(recordings: readonly RecordingRecord[]): number {
  return recordings.reduce((sum, recording) => sum + recording.bytes, 0);
}

/** Why a new recording cannot start now (`conflict`: one runs; `storage`: the session's limits), or nothing. */
export function recordingRefusal(
  context: RecordingsView,
): { kind: 'conflict' | 'storage'; reason: string } | undefined {
  const running = context.recordings.find(isRecording);
  if (running) return { kind: 'conflict', reason: `recording ${running.id} is running: stop it first` };
  const { maxCount, maxBytes } = context.recordingLimits;
  if (context.recordings.length >= maxCount)
    return {
      kind: 'storage',
      reason: `the session keeps ${maxCount} recordings at most: delete one first`,
    };
  if (recordedBytes(context.recordings) >= maxBytes)
    return {
      kind: 'storage',
      reason: `the session's recordings use their ${mib(maxBytes)} MiB: delete one first`,
    };
  return undefined;
}

/** A recording takes the stream's codec while anyone watches; otherwise the configured one (viewers follow it). */
export function recordingCodec(
  context: Pick<SessionContext, 'viewers' | 'offers' | 'recordings' | 'codec'> & {
    recordingLimits: RecordingLimits;
  },
): Codec {
  return watcherCount(context) > 0 && context.codec ? context.codec : context.recordingLimits.codec;
}

/** What one more recording may write: the session's allowance less what its kept recordings take. */
export function recordingAllowance(context: RecordingsView): number {
  return Math.max(0, context.recordingLimits.maxBytes - recordedBytes(context.recordings));
}

export function patchRecording(
  recordings: readonly RecordingRecord[],
  id: string,
  patch: Partial<RecordingRecord>,
): RecordingRecord[] {
  return recordings.map((recording) => (recording.id === id ? { ...recording, ...patch } : recording));
}

const mib = (bytes: number) => Math.round(bytes / (1024 * 1024));
