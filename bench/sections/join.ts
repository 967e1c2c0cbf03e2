import type { CaptureStrategy } from '../../src/machines/types.js';
import { firstFrameMs, launchBenchBrowser } from '../browser.js';
import { type BenchSection, n } from '../section.js';
import { log, percentile, sleep, startService, VIEWPORT, WARMUP_MS } from '../util.js';

/** Viewers joining a page that stopped changing: connected → first decoded frame, one after another. */
async function joinTime(url: string, capture: CaptureStrategy, joins: number) {
  const { app, commands, base } = await startService();
  const viewer = await launchBenchBrowser();
  try {
    const session = await commands.sessions.create({ url, fps: 30, viewport: VIEWPORT, capture });
    await sleep(WARMUP_MS); // loaded and still
    const waits: number[] = [];
    for (let i = 0; i < joins; i++) {
      waits.push(await firstFrameMs(viewer, `${base}/api/sessions/${session.id}/view`));
      await sleep(500);
    }
    return { joins, firstFrameMsP50: percentile(waits, 50), firstFrameMsMax: Math.max(...waits), waits };
  } finally {
    await viewer.close();
    await app.close();
  }
}

type JoinData = Record<string, Awaited<ReturnType<typeof joinTime>>>;

export const joinSection: BenchSection<JoinData> = {
  name: 'join',
  async run(pages) {
    const rows: JoinData = {};
    for (const capture of ['screencast', 'tab'] as const) {
      log(`join: 8 viewers one after another on a still ${capture} page…`);
      rows[capture] = await joinTime(pages.stillUrl, capture, 8);
    }
    return rows;
  },
  render(joins, when) {
    const rows = Object.entries(joins).map(
      ([capture, j]) =>
        `| ${capture} | ${j.joins} | ${n(j.firstFrameMsP50)} ms | ${n(j.firstFrameMsMax)} ms |`,
    );
    return `## A viewer joining a page that does not change ${when}
Viewers open the view page one after another on a session whose page stopped changing; time from the
viewer's peer connection reaching \`connected\` to its first decoded frame (screencast: the encoder
restarts with a keyframe or the last frame repeats; tab: a keyframe request plus a compositor nudge).

| strategy | joins | first frame p50 | slowest |
|---|---|---|---|
${rows.join('\n')}`;
  },
};
