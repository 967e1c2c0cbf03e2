import type { Page } from 'puppeteer-core';
import type { RenderRate } from '../../src/machines/pool.machine.js';
import { framesDecoded, launchBenchBrowser, openWatching } from '../browser.js';
import { type BenchSection, n } from '../section.js';
import {
  log,
  nodeCpuSeconds,
  SECONDS,
  sleep,
  startedCpuSeconds,
  startService,
  VIEWPORT,
  WARMUP_MS,
} from '../util.js';

/** Unwatched pages, and watched ones (fewer: four watched saturate two cores, and a saturated compositor misses its beats at any rate). */
const UNWATCHED = 4;
const WATCHED = 2;

/**
 * Typical pages at 30 FPS (tab capture), watched (a viewer each) or not, in browsers that
 * composite at 60 Hz (`renderRate: display`) or at the capture's 30 Hz (`capture`): CPU per session
 * and the frames each viewer decodes.
 */
async function renderCost(url: string, renderRate: RenderRate, watched: boolean) {
  const { app, castpool, commands, base } = await startService({ renderRate });
  const viewer = watched ? await launchBenchBrowser() : undefined;
  try {
    const ids: string[] = [];
    const sessions = watched ? WATCHED : UNWATCHED;
    for (let i = 0; i < sessions; i++)
      ids.push((await commands.sessions.create({ url, fps: 30, viewport: VIEWPORT, capture: 'tab' })).id);
    const views: Page[] = [];
    for (const id of ids)
      if (viewer) views.push(await openWatching(viewer, `${base}/api/sessions/${id}/view`));
    await sleep(WARMUP_MS + 1000);
    const frames = () => framesDecoded(views);
    const cpu = () => startedCpuSeconds(castpool);
    const [f0, c0, n0, t0] = [await frames(), cpu(), nodeCpuSeconds(), performance.now()];
    await sleep(SECONDS * 1000);
    const [f1, c1, n1] = [await frames(), cpu(), nodeCpuSeconds()];
    const seconds = (performance.now() - t0) / 1000;
    const fps = f1.map((f, i) => (f - (f0[i] ?? 0)) / seconds);
    return {
      renderRate,
      watched,
      sessions,
      perSessionPercent: ((c1 - c0) / seconds / sessions) * 100,
      nodePercent: ((n1 - n0) / seconds) * 100,
      viewerFpsMean: fps.length ? fps.reduce((a, b) => a + b, 0) / fps.length : null,
      viewerFpsMin: fps.length ? Math.min(...fps) : null,
    };
  } finally {
    await viewer?.close();
    await app.close();
  }
}

type RenderData = Awaited<ReturnType<typeof renderCost>>[];

export const renderSection: BenchSection<RenderData> = {
  name: 'render',
  async run(pages) {
    const rows: RenderData = [];
    for (const watched of [false, true])
      for (const renderRate of ['display', 'capture'] as const) {
        log(
          `render: ${watched ? WATCHED : UNWATCHED} typical pages, ${watched ? 'watched' : 'unwatched'}, renderRate ${renderRate}…`,
        );
        rows.push(await renderCost(pages.typicalUrl, renderRate, watched));
      }
    return rows;
  },
  render(rows, when) {
    const ratio = (watched: boolean) => {
      const display = rows.find((r) => r.watched === watched && r.renderRate === 'display');
      const capture = rows.find((r) => r.watched === watched && r.renderRate === 'capture');
      return display && capture ? n((capture.perSessionPercent / display.perSessionPercent) * 100) : '–';
    };
    const lines = rows.map(
      (r) =>
        `| ${r.sessions} × typical page, ${r.watched ? 'watched' : 'unwatched'} | \`${r.renderRate}\` (${r.renderRate === 'capture' ? '30' : '60'} Hz) | ${n(r.perSessionPercent, 1)} | ${n(r.nodePercent, 1)} | ${r.watched ? `${n(r.viewerFpsMean, 1)} / ${n(r.viewerFpsMin, 1)}` : '–'} |`,
    );
    return `## Render rate: compositing at the capture's rate ${when}
Sessions at 30 FPS (tab capture) in browsers compositing at Chromium's 60 Hz (\`renderRate: "display"\`)
or at 30 Hz (\`"capture"\`, the default: Chromium's battery-saver frame throttling). CPU in % of one core
per session (its browser's processes), castpool's Node process, and the frames per second each viewer
decoded (mean / lowest). At 30 Hz a session costs ${ratio(false)} % (unwatched) and ${ratio(true)} %
(watched) of what it costs at 60 Hz: Chromium exempts a captured tab from the throttling, so the
saving is on the pages nobody watches, and a watched page keeps its full rate.

| sessions | render rate | per session | castpool (Node) | viewer FPS (mean / min) |
|---|---|---|---|---|
${lines.join('\n')}`;
  },
};
