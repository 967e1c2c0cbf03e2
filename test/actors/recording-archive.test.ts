import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordingArchive } from '../../src/actors/recording-archive.js';
import { RecordingSpace } from '../../src/actors/recording-space.js';
import { TEST_ROOT } from '../helpers/test-root.js';

const HOUR = 3600_000;
const SESSION = '3b81984a-e26d-4602-a3c2-6a71b3ec4474';
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** An archive over a fresh data directory, on a clock the test moves. */
function archiveIn(dataDir = mkdtempSync(join(TEST_ROOT, 'archive-'))) {
  if (!dirs.includes(dataDir)) dirs.push(dataDir);
  const clock = { now: 1_000_000 };
  const space = new RecordingSpace(1024 * 1024);
  const archive = new RecordingArchive(dataDir, 24 * HOUR, space, () => clock.now);
  return { dataDir, clock, space, archive };
}

/** What a recorder does: a folder, a file, and its record once final. */
function record(archive: RecordingArchive, id: string, bytes: number, endedAt: number) {
  archive.prepare(SESSION);
  writeFileSync(archive.path(SESSION, { id, codec: 'H264' }), Buffer.alloc(bytes, 1));
  archive.finished(SESSION, {
    id,
    state: 'completed',
    codec: 'H264',
    bytes,
    startedAt: endedAt - 5000,
    endedAt,
    reason: 'stopped by a client',
  });
}

describe("the node's recording archive", () => {
  it('serves an ended session’s recordings, again after a restart, and removes them when their time is over', async () => {
    const { dataDir, clock, archive } = archiveIn();
    record(archive, 'rec-1', 1000, clock.now);
    // While the session lives its machine answers, not the archive.
    expect(archive.has(SESSION)).toBe(false);
    archive.release(SESSION);
    expect(archive.list(SESSION)).toEqual([
      expect.objectContaining({ id: 'rec-1', state: 'completed', bytes: 1000, endedAt: clock.now }),
    ]);
    archive.close();

    const restarted = archiveIn(dataDir);
    restarted.clock.now = clock.now + 23 * HOUR;
    expect(restarted.archive.load()).toEqual({ sessions: 1, recordings: 1 });
    expect(restarted.archive.list(SESSION)).toEqual(archive.list(SESSION));
    expect(restarted.space.totalBytes).toBe(1000);
    restarted.clock.now = clock.now + 24 * HOUR;
    restarted.archive.sweep();
    await until(() => !existsSync(join(dataDir, 'recordings', SESSION)));
    expect(restarted.archive.has(SESSION)).toBe(false);
    expect(restarted.space.totalBytes).toBe(0);
    restarted.archive.close();
  });

  it('keeps a file a killed recorder left without its record (at start only), and ignores a forged record', () => {
    const { dataDir, archive } = archiveIn();
    archive.prepare(SESSION);
    writeFileSync(archive.path(SESSION, { id: 'rec-1', codec: 'VP8' }), Buffer.alloc(500, 1));
    // While castpool runs, a file without a record is still being finalised: not listed yet.
    archive.release(SESSION);
    expect(archive.list(SESSION)).toEqual([]);
    writeFileSync(archive.path(SESSION, { id: 'rec-2', codec: 'H264' }), Buffer.alloc(300, 1));
    writeFileSync(
      join(dataDir, 'recordings', SESSION, 'rec-2.json'),
      JSON.stringify({
        id: 'rec-2',
        state: 'completed',
        codec: 'H264',
        bytes: 10 ** 9,
        startedAt: 0,
        endedAt: 0,
        evil: 1,
      }),
    );
    const restarted = archiveIn(dataDir);
    restarted.archive.load();
    const kept = restarted.archive.list(SESSION) ?? [];
    expect(kept.map((r) => [r.id, r.codec, r.bytes])).toEqual(
      expect.arrayContaining([
        ['rec-1', 'VP8', 500],
        ['rec-2', 'H264', 300],
      ]),
    );
    for (const r of kept) expect(r.reason).toMatch(/castpool stopped while recording/);
    restarted.archive.close();
  });

  it('leaves a folder another running castpool records into alone, and takes one whose session ended', () => {
    const { dataDir } = archiveIn();
    const folder = join(dataDir, 'recordings', SESSION);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'rec-1.mkv'), Buffer.alloc(100, 1));
    // The parent of this test process runs: as if it were another castpool on the same dataDir.
    writeFileSync(join(folder, 'owner'), String(process.ppid));
    const other = archiveIn(dataDir);
    other.archive.load();
    expect(other.archive.has(SESSION)).toBe(false);
    expect(existsSync(join(folder, 'rec-1.mkv'))).toBe(true);
    other.archive.close();
    writeFileSync(join(folder, 'ended'), '');
    const again = archiveIn(dataDir);
    again.archive.load();
    expect(again.archive.list(SESSION)?.map((r) => r.id)).toEqual(['rec-1']);
    again.archive.close();
  });
});

async function until(check: () => boolean) {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}
