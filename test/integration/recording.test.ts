import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BrowserContext } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCastpool } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';
import { TEST_ROOT } from '../helpers/test-root.js';
import { launchViewerBrowser, until } from '../helpers/viewer.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let pages: Awaited<ReturnType<typeof startTestPages>>;
let viewers: BrowserContext;
let files: string;

beforeAll(async () => {
  pages = await startTestPages();
  viewers = await launchViewerBrowser();
  files = mkdtempSync(join(TEST_ROOT, 'recordings-'));
});

afterAll(async () => {
  await viewers?.close();
  await pages?.close();
  rmSync(files, { recursive: true, force: true });
});

type Castpool = Awaited<ReturnType<typeof startCastpool>>;

async function createSession(castpool: Castpool, extra: Record<string, unknown> = {}) {
  const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/animated'), ...extra });
  expect(created.status).toBe(201);
  return created.json.id as string;
}

const recordingOf = async (castpool: Castpool, id: string, recordingId: string) =>
  (await castpool.api('GET', `/api/sessions/${id}/recordings`)).json.recordings.find(
    (r: { id: string }) => r.id === recordingId,
  );

/** ffprobe's view of a file: its duration, the frames it decodes, and the largest gap between two. */
async function probe(path: string) {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'format=duration,format_name:stream=codec_name,width,height:frame=best_effort_timestamp_time',
    '-of',
    'json',
    path,
  ]);
  const info = JSON.parse(stdout) as {
    format: { duration: string; format_name: string };
    streams: { codec_name: string; width: number; height: number }[];
    frames: { best_effort_timestamp_time?: string }[];
  };
  const times = info.frames.map((f) => Number(f.best_effort_timestamp_time)).filter(Number.isFinite);
  let gap = 0;
  let unordered = 0;
  for (let i = 1; i < times.length; i++) {
    const step = (times[i] as number) - (times[i - 1] as number);
    gap = Math.max(gap, step);
    if (step <= 0) unordered++;
  }
  return {
    duration: Number(info.format.duration),
    format: info.format.format_name,
    codec: info.streams[0]?.codec_name,
    width: info.streams[0]?.width,
    frames: times.length,
    largestGap: gap,
    /** Frames not later than the one before (frames sharing a time render as one). */
    unordered,
  };
}

/**
 * What `ffmpeg -v error` says decoding the whole file (nothing: it decodes cleanly). Passthrough at the
 * file's own time base: the frames come when the page drew them (variable rate); the null muxer's
 * default converts to a fixed rate and complains of frames closer than its tick, which is no decode error.
 */
async function decodeErrors(path: string): Promise<string> {
  const { stderr } = await run('ffmpeg', [
    '-v',
    'error',
    '-i',
    path,
    '-fps_mode',
    'passthrough',
    '-enc_time_base:v',
    '-1',
    '-f',
    'null',
    '-',
  ]);
  return stderr.trim();
}

describe.each([
  { capture: 'tab', codec: 'H264', contentType: 'video/x-matroska', ffprobeCodec: 'h264' },
  { capture: 'screencast', codec: 'VP8', contentType: 'video/webm', ffprobeCodec: 'vp8' },
] as const)(
  'recording a $capture-captured session ($codec)',
  ({ capture, codec, contentType, ffprobeCodec }) => {
    let castpool: Castpool;
    beforeAll(async () => {
      // An unwatched session records in the configured codec.
      castpool = await startCastpool({
        recordings: { maxMbPerSession: 1024, maxPerSession: 20, maxTotalMb: 8192, retentionHours: 24, codec },
      });
    });
    afterAll(async () => {
      await castpool?.close();
    });

    it('records 10 s across a navigation into a file ffprobe, ffmpeg and Chromium accept, without a second encode', async () => {
      const id = await createSession(castpool, { capture, fps: 30 });
      const news: string[] = [];
      const unsubscribe = castpool.castpool.events.subscribe((event) => {
        if (event.kind === 'page' && 'recordingId' in event && event.sessionId === id)
          news.push(`${event.type} ${event.recordingId} ${event.state}`);
      });
      const started = await castpool.api('POST', `/api/sessions/${id}/recordings`);
      expect(started.status, started.text).toBe(201);
      expect(started.json).toMatchObject({ id: 'rec-1', codec, contentType, state: 'starting' });
      expect(started.headers.get('location')).toBe(`/api/sessions/${id}/recordings/rec-1`);
      // A recording is a watcher: the session captures for it, with no viewer.
      const watched = await castpool.api('GET', `/api/sessions/${id}`);
      expect(['streaming', 'throttled']).toContain(watched.json.state);
      expect(watched.json.viewers).toBe(0);
      const begun = await until(
        () => recordingOf(castpool, id, 'rec-1'),
        (r) => r?.state === 'recording',
        10_000,
      );
      expect(begun.state).toBe('recording');
      const recordingSince = Date.now();
      // One encode: the recorder's ffmpeg copies (no libx264/libvpx of its own), beside the capture's.
      const ffmpegs = castpool.castpool.processes.list().filter((p) => p.kind === 'ffmpeg');
      expect(ffmpegs.filter((p) => p.owner === `recording:${id}`)).toHaveLength(1);
      expect(ffmpegs.filter((p) => p.owner === id)).toHaveLength(capture === 'screencast' ? 1 : 0);
      const again = await castpool.api('POST', `/api/sessions/${id}/recordings`);
      expect(again.status).toBe(409);
      expect(again.json.message).toMatch(/rec-1 is running/);
      const early = await castpool.api('GET', `/api/sessions/${id}/recordings/rec-1`);
      expect(early.status).toBe(409);

      await sleep(5000);
      const navigated = await castpool.api('POST', `/api/sessions/${id}/navigate`, {
        url: pages.url('/animated?second=1'),
      });
      expect(navigated.status).toBe(200);
      // ffmpeg writes once it has probed the stream (a second of it): progress shows the bytes.
      const progressing = await until(
        () => recordingOf(castpool, id, 'rec-1'),
        (r) => (r?.bytes ?? 0) > 0,
        10_000,
      );
      expect(progressing.bytes).toBeGreaterThan(0);
      await sleep(Math.max(0, 10_000 - (Date.now() - recordingSince)));
      const stoppedAt = Date.now();
      const stopped = await castpool.api('DELETE', `/api/sessions/${id}/recordings/rec-1`);
      expect(stopped.status, stopped.text).toBe(200);
      expect(stopped.json).toMatchObject({
        removed: false,
        recording: { state: 'completed', reason: 'stopped by a client' },
      });
      const { bytes } = stopped.json.recording;
      unsubscribe();
      expect(news).toEqual(['recording.started rec-1 starting', 'recording.finished rec-1 completed']);
      expect(bytes).toBeGreaterThan(10_000);
      // Nobody watches now: the capture stops.
      await until(
        () => castpool.api('GET', `/api/sessions/${id}`),
        (s) => s.json.state === 'idle',
        5000,
      );
      expect((await castpool.api('GET', `/api/sessions/${id}`)).json.state).toBe('idle');

      // The file, whole and in a range; its size as listed.
      const whole = await fetch(`${castpool.base}/api/sessions/${id}/recordings/rec-1`);
      expect(whole.status).toBe(200);
      expect(whole.headers.get('content-type')).toBe(contentType);
      expect(whole.headers.get('accept-ranges')).toBe('bytes');
      const body = Buffer.from(await whole.arrayBuffer());
      expect(body.byteLength).toBe(bytes);
      const part = await fetch(`${castpool.base}/api/sessions/${id}/recordings/rec-1`, {
        headers: { range: 'bytes=100-1099' },
      });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 100-1099/${bytes}`);
      expect(Buffer.from(await part.arrayBuffer()).equals(body.subarray(100, 1100))).toBe(true);
      const beyond = await fetch(`${castpool.base}/api/sessions/${id}/recordings/rec-1`, {
        headers: { range: `bytes=${bytes}-` },
      });
      expect(beyond.status).toBe(416);
      expect(beyond.headers.get('content-range')).toBe(`bytes */${bytes}`);

      const path = join(files, `${capture}.${codec === 'VP8' ? 'webm' : 'mkv'}`);
      writeFileSync(path, body);
      const probed = await probe(path);
      const expected = (stoppedAt - recordingSince) / 1000;
      console.log(
        `recording ${capture}/${codec}: ${bytes} bytes, ${probed.duration.toFixed(2)} s (wall ${expected.toFixed(2)} s), ` +
          `${probed.frames} frames, largest gap ${probed.largestGap.toFixed(3)} s, ${probed.format}`,
      );
      expect(probed.codec).toBe(ffprobeCodec);
      expect(probed.width).toBe(640);
      // Duration within 10 % of the wall time recorded (it began at the first keyframe, seen within a second).
      expect(Math.abs(probed.duration - expected)).toBeLessThanOrEqual(expected * 0.1 + 1);
      // A moving page: more frames than the still-page repeat (4/s) would give, and no hole across the navigation.
      expect(probed.frames).toBeGreaterThan(probed.duration * 4);
      expect(probed.largestGap).toBeLessThan(1.5);
      // No two frames share a time but, under H.264, the first two: ffmpeg's RTP H.264 reader leaves the
      // first access unit without a time and the muxer gives it the next one's. (The screencast's ffmpeg
      // stamps in 1/25 s, so at 30 FPS frames share stamps: the fan-out sends each such frame 1 ms on.)
      expect(probed.unordered).toBeLessThanOrEqual(codec === 'H264' ? 1 : 0);
      const stderr = await decodeErrors(path);
      expect(stderr, stderr.slice(0, 1500)).toBe('');

      // Chromium plays it to the end from castpool's URL (seeking uses the range requests).
      const player = await viewers.newPage();
      try {
        await player.goto(`${castpool.base}/api/info`);
        const played = await player.evaluate(async (url) => {
          const video = document.createElement('video');
          video.muted = true;
          video.src = url;
          document.body.append(video);
          return await new Promise<{ ended: boolean; duration: number; error?: string }>((resolve) => {
            video.onended = () => resolve({ ended: true, duration: video.duration });
            video.onerror = () =>
              resolve({ ended: false, duration: video.duration, error: video.error?.message });
            video.onloadedmetadata = () => {
              // Seek past the navigation, then play the rest fast.
              video.currentTime = video.duration / 2;
              video.playbackRate = 4;
              void video.play();
            };
            setTimeout(() => resolve({ ended: false, duration: video.duration, error: 'timeout' }), 20_000);
          });
        }, `${castpool.base}/api/sessions/${id}/recordings/rec-1`);
        expect(played).toMatchObject({ ended: true });
        expect(Math.abs(played.duration - probed.duration)).toBeLessThan(0.5);
      } finally {
        await player.close();
      }

      // NATS clients see the same list; deleting a finished recording removes its file.
      const overNats = await castpool.natsCall('recordings', { id });
      expect(overNats.status).toBe(200);
      expect(overNats.json.recordings).toEqual(
        (await castpool.api('GET', `/api/sessions/${id}/recordings`)).json.recordings,
      );
      const removed = await castpool.api('DELETE', `/api/sessions/${id}/recordings/rec-1`);
      expect(removed.json).toMatchObject({ removed: true });
      expect((await castpool.api('GET', `/api/sessions/${id}/recordings`)).json.recordings).toEqual([]);
      expect((await castpool.api('GET', `/api/sessions/${id}/recordings/rec-1`)).status).toBe(404);
      expect((await castpool.api('DELETE', `/api/sessions/${id}/recordings/rec-9`)).status).toBe(404);
      expect((await castpool.api('DELETE', `/api/sessions/${id}`)).status).toBe(204);
    });
  },
);

describe('recording limits', () => {
  let castpool: Castpool;
  beforeAll(async () => {
    castpool = await startCastpool({
      recordings: {
        maxMbPerSession: 1,
        maxPerSession: 20,
        maxTotalMb: 8192,
        retentionHours: 24,
        codec: 'H264',
      },
    });
  });
  afterAll(async () => {
    await castpool?.close();
  });

  it("stops a recording at the session's limit, keeps a playable file, and refuses the next with 507", async () => {
    const id = await createSession(castpool, { capture: 'screencast', fps: 30 });
    expect((await castpool.api('POST', `/api/sessions/${id}/recordings`)).status).toBe(201);
    const ended = await until(
      () => recordingOf(castpool, id, 'rec-1'),
      (r) => r?.state === 'completed' || r?.state === 'failed',
      40_000,
    );
    expect(ended).toMatchObject({ state: 'completed', reason: "the session's recording limit was reached" });
    expect(ended.bytes).toBeGreaterThanOrEqual(1024 * 1024);
    const path = join(files, 'limited.mkv');
    writeFileSync(
      path,
      Buffer.from(await (await fetch(`${castpool.base}/api/sessions/${id}/recordings/rec-1`)).arrayBuffer()),
    );
    expect((await probe(path)).duration).toBeGreaterThan(0.5);
    const refused = await castpool.api('POST', `/api/sessions/${id}/recordings`);
    expect(refused.status).toBe(507);
    expect(refused.json).toMatchObject({ error: 'insufficient_storage' });
    expect(refused.json.message).toMatch(/1 MiB/);
    // Nothing runs for the session now: it is unwatched again.
    expect((await castpool.api('GET', `/api/sessions/${id}`)).json.state).toBe('idle');
  });
});

describe('recordings after their session', () => {
  let castpool: Castpool | undefined;
  afterAll(async () => {
    await castpool?.close();
  });

  it('keeps them when the session ends and across a restart of the node: listed, downloaded, deleted', async () => {
    const first = await startCastpool();
    castpool = first;
    const id = await createSession(first, { fps: 30 });
    expect((await first.api('POST', `/api/sessions/${id}/recordings`)).status).toBe(201);
    await until(
      () => recordingOf(first, id, 'rec-1'),
      (r) => r?.state === 'recording' && r.bytes > 0,
      15_000,
    );
    await sleep(1000);
    // The session ends while it records: the recording is finalised (its stream gone) and kept.
    expect((await first.api('DELETE', `/api/sessions/${id}`)).status).toBe(204);
    expect((await first.api('GET', `/api/sessions/${id}`)).status).toBe(404);
    // Final when the delete answers: the session closed only once ffmpeg had written the file's end
    // (not ffmpeg's 30 s silence limit later, with the page gone).
    const kept = await recordingOf(first, id, 'rec-1');
    expect(kept).toMatchObject({ state: 'completed', reason: 'the session ended', codec: 'H264' });
    expect(kept.bytes).toBeGreaterThan(0);
    expect(Date.parse(kept.expiresAt) - Date.parse(kept.endedAt)).toBe(24 * 3600_000);
    const download = await fetch(`${first.base}/api/sessions/${id}/recordings/rec-1`);
    expect(download.status).toBe(200);
    const body = Buffer.from(await download.arrayBuffer());
    expect(body.byteLength).toBe(kept.bytes);
    const path = join(files, 'after-the-session.mkv');
    writeFileSync(path, body);
    expect((await probe(path)).duration).toBeGreaterThan(0.5);
    // Unknown ids of an ended session are still 404s.
    expect((await first.api('GET', `/api/sessions/${id}/recordings/rec-2`)).status).toBe(404);
    await first.close();

    // The next run on the same data directory has it, with the same record.
    const second = await startCastpool({ dataDir: first.dataDir });
    castpool = second;
    const listed = await second.api('GET', `/api/sessions/${id}/recordings`);
    expect(listed.status).toBe(200);
    expect(listed.json.recordings).toEqual([kept]);
    const again = await fetch(`${second.base}/api/sessions/${id}/recordings/rec-1`, {
      headers: { range: 'bytes=0-99' },
    });
    expect(again.status).toBe(206);
    expect(Buffer.from(await again.arrayBuffer()).equals(body.subarray(0, 100))).toBe(true);
    // Deleting it removes the file; the ended session then has nothing left to show.
    const removed = await second.api('DELETE', `/api/sessions/${id}/recordings/rec-1`);
    expect(removed.status).toBe(200);
    expect(removed.json).toMatchObject({ removed: true, recording: { id: 'rec-1' } });
    expect((await second.api('GET', `/api/sessions/${id}/recordings`)).status).toBe(404);
    expect(existsSync(join(first.dataDir, 'recordings', id))).toBe(false);
  });
});

describe('a recording across a browser restart', () => {
  let castpool: Castpool;
  beforeAll(async () => {
    castpool = await startCastpool({ sessionsPerBrowser: 1 });
  });
  afterAll(async () => {
    await castpool?.close();
  });

  it('keeps recording while the session restarts on a new browser: one file, frames before and after', async () => {
    const id = await createSession(castpool, { fps: 30 });
    expect((await castpool.api('POST', `/api/sessions/${id}/recordings`)).status).toBe(201);
    await until(
      () => recordingOf(castpool, id, 'rec-1'),
      (r) => r?.state === 'recording',
      10_000,
    );
    const since = Date.now();
    await sleep(2000);
    const hostId = castpool.castpool.pool.getSnapshot().context.sessions[id]?.hostId;
    const browser = castpool.castpool.processes
      .list()
      .find((p) => p.kind === 'chromium' && p.owner === hostId);
    expect(browser).toBeDefined();
    const killedAt = Date.now();
    process.kill(browser?.pid ?? 0, 'SIGKILL');
    const back = await until(
      () => castpool.api('GET', `/api/sessions/${id}`),
      (s) => s.json.restarts === 1 && s.json.state === 'streaming',
      20_000,
    );
    expect(back.json).toMatchObject({ restarts: 1, state: 'streaming' });
    const backAt = Date.now();
    await sleep(3000);
    const stoppedAt = Date.now();
    const stopped = await castpool.api('DELETE', `/api/sessions/${id}/recordings/rec-1`);
    expect(stopped.json).toMatchObject({ recording: { state: 'completed', reason: 'stopped by a client' } });
    const path = join(files, 'restarted.mkv');
    writeFileSync(
      path,
      Buffer.from(await (await fetch(`${castpool.base}/api/sessions/${id}/recordings/rec-1`)).arrayBuffer()),
    );
    const probed = await probe(path);
    const wall = (stoppedAt - since) / 1000;
    console.log(
      `recording across a restart: ${probed.duration.toFixed(2)} s (wall ${wall.toFixed(2)} s, restart took ${((backAt - killedAt) / 1000).toFixed(2)} s), ` +
        `${probed.frames} frames, largest gap ${probed.largestGap.toFixed(2)} s`,
    );
    // The restart is a pause in one file (its length in time), not the file's end.
    expect(Math.abs(probed.duration - wall)).toBeLessThanOrEqual(wall * 0.1 + 1);
    expect(probed.largestGap).toBeGreaterThan(0.3);
    expect(probed.frames).toBeGreaterThan(probed.duration * 4);
    const stderr = await decodeErrors(path);
    expect(stderr, stderr.slice(0, 1500)).toBe('');
    expect((await castpool.api('DELETE', `/api/sessions/${id}`)).status).toBe(204);
  });
});
