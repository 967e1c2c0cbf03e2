import type { CaptureStrategy } from '../../src/machines/types.js';
import { decodedFpsOver, launchBenchBrowser, openWatching } from '../browser.js';
import { type BenchSection, n } from '../section.js';
import {
  groupCpuSeconds,
  log,
  nodeCpuSeconds,
  SECONDS,
  sleep,
  startedCpuSeconds,
  startService,
  until,
  VIEWPORT,
  WARMUP_MS,
} from '../util.js';

/**
 * One watched full-motion session, with and without a recording beside its viewer, in one run: what the
 * recording costs (its ffmpeg copies packets: no encode), and what the viewer keeps.
 */
async function recordedSession(url: string, capture: CaptureStrategy, record: boolean) {
  const { app, castpool, commands, base } = await startService();
  const viewer = await launchBenchBrowser();
  try {
    const session = await commands.sessions.create({ url, fps: 30, viewport: VIEWPORT, capture });
    await sleep(WARMUP_MS);
    const page = await openWatching(viewer, `${base}/api/sessions/${session.id}/view`);
    const recording = record ? await commands.recordings.start({ id: session.id }) : undefined;
    const state = () => castpool.pool.getSnapshot().context.sessions[session.id]?.ref.getSnapshot().context;
    if (recording) await until(() => state()?.recordings[0]?.state === 'recording', 10_000);
    await sleep(WARMUP_MS);
    const recorder = castpool.processes.list().find((p) => p.owner === `recording:${session.id}`);
    const node0 = nodeCpuSeconds();
    const children0 = startedCpuSeconds(castpool);
    const recorder0 = groupCpuSeconds(recorder?.pid ?? -1);
    const bytes0 = state()?.recordings[0]?.bytes ?? 0;
    const t0 = performance.now();
    const [viewerFps] = await decodedFpsOver([page], SECONDS * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const nodeCpu = nodeCpuSeconds() - node0;
    const recorderCpu = groupCpuSeconds(recorder?.pid ?? -1) - recorder0;
    const childrenCpu = startedCpuSeconds(castpool) - children0;
    const bytes = (state()?.recordings[0]?.bytes ?? 0) - bytes0;
    let finaliseMs: number | undefined;
    if (recording) {
      const asked = performance.now();
      await commands.recordings.stop({ id: session.id, recordingId: recording.id });
      finaliseMs = performance.now() - asked;
    }
    return {
      viewerFps: viewerFps ?? 0,
      sessionCpuPct: ((childrenCpu - recorderCpu + nodeCpu) / elapsed) * 100,
      nodeCpuPct: (nodeCpu / elapsed) * 100,
      recorderCpuPct: recorder ? (recorderCpu / elapsed) * 100 : undefined,
      recordedKbitPerSecond: recording ? (bytes * 8) / 1000 / elapsed : undefined,
      finaliseMs,
    };
  } finally {
    await viewer.close();
    await app.close();
  }
}

type RecordingData = Record<string, Awaited<ReturnType<typeof recordedSession>>>;

export const recordingSection: BenchSection<RecordingData> = {
  name: 'recording',
  async run(pages) {
    const rows: RecordingData = {};
    for (const capture of ['tab', 'screencast'] as const)
      for (const record of [false, true]) {
        const name = `${capture}${record ? ' + recording' : ''}`;
        log(`recording: ${name}, full motion, one viewer…`);
        rows[name] = await recordedSession(pages.animatedUrl, capture, record);
      }
    return rows;
  },
  render(data, when) {
    const rows = Object.entries(data).map(
      ([name, r]) =>
        `| ${name} | ${n(r.viewerFps, 1)} | ${n(r.sessionCpuPct)} % | ${n(r.nodeCpuPct)} % | ${r.recorderCpuPct === undefined ? '–' : `${n(r.recorderCpuPct, 1)} %`} | ${n(r.recordedKbitPerSecond)} | ${n(r.finaliseMs)} |`,
    );
    return `## Recording: what it costs beside a viewer ${when}
One full-motion session at 1280×720, 30 FPS, watched by a real Chromium viewer, without and with a
recording running (the viewer's Chromium, on the same cores, is not counted). Session CPU = its Chromium,
the capture's ffmpeg (screencast) and castpool's Node, without the recorder; the recorder is the ffmpeg
that copies the fan-out's RTP into the file (no encode). Finalise = \`DELETE …/recordings/:id\` until the
file has its index.

| session | viewer FPS | session CPU | of it Node | recorder CPU | recorded kbit/s | finalise ms |
|---|---|---|---|---|---|---|
${rows.join('\n')}`;
  },
};
