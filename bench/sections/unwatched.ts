import { firstFrameMs, launchBenchBrowser } from '../browser.js';
import { type BenchSection, n } from '../section.js';
import {
  log,
  nodeCpuSeconds,
  percentile,
  SECONDS,
  sleep,
  startedCpuSeconds,
  startService,
  VIEWPORT,
  WARMUP_MS,
} from '../util.js';

const SESSIONS = 4;

/**
 * What live sessions cost while nobody watches them (`unwatched`: visible, hidden or frozen), and how soon a
 * viewer joining one gets its first frame. `0` sessions: the idle service itself.
 */
async function unwatchedCost(url: string, unwatched: 'visible' | 'hidden' | 'frozen', sessions: number) {
  const { app, castpool, commands, base } = await startService({ session: { unwatched } });
  const viewer = sessions > 0 ? await launchBenchBrowser() : undefined;
  try {
    const ids: string[] = [];
    for (let i = 0; i < sessions; i++)
      ids.push((await commands.sessions.create({ url, fps: 30, viewport: VIEWPORT, capture: 'tab' })).id);
    // Past start-up, and past `supervision.freezeAfterMs` (3 s) for frozen sessions.
    await sleep(Math.max(WARMUP_MS + 2000, 4000));
    const cpu = () => startedCpuSeconds(castpool);
    const [c0, n0, t0] = [cpu(), nodeCpuSeconds(), performance.now()];
    await sleep(SECONDS * 1000);
    const seconds = (performance.now() - t0) / 1000;
    const childPercent = ((cpu() - c0) / seconds) * 100;
    const nodePercent = ((nodeCpuSeconds() - n0) / seconds) * 100;
    const firstFrames: number[] = [];
    for (const id of ids.slice(0, 2))
      if (viewer) firstFrames.push(await firstFrameMs(viewer, `${base}/api/sessions/${id}/view`));
    return {
      sessions,
      unwatched,
      perSessionPercent: sessions > 0 ? childPercent / sessions : null,
      browsersPercent: childPercent,
      nodePercent,
      firstFrameMsP50: percentile(firstFrames, 50),
    };
  } finally {
    await viewer?.close();
    await app.close();
  }
}

type UnwatchedData = Awaited<ReturnType<typeof unwatchedCost>>[];

export const unwatchedSection: BenchSection<UnwatchedData> = {
  name: 'unwatched',
  async run(pages) {
    const rows: UnwatchedData = [];
    log('unwatched: the idle service, no session…');
    rows.push(await unwatchedCost(pages.typicalUrl, 'visible', 0));
    for (const unwatched of ['visible', 'hidden', 'frozen'] as const) {
      log(`unwatched: ${SESSIONS} live typical pages nobody watches, ${unwatched}…`);
      rows.push(await unwatchedCost(pages.typicalUrl, unwatched, SESSIONS));
    }
    return rows;
  },
  render(rows, when) {
    const visible = rows.find((r) => r.sessions > 0 && r.unwatched === 'visible');
    const share = (variant: 'hidden' | 'frozen') => {
      const row = rows.find((r) => r.sessions > 0 && r.unwatched === variant);
      return visible?.perSessionPercent && row?.perSessionPercent != null
        ? `${variant} costs ${n((row.perSessionPercent / visible.perSessionPercent) * 100)} % of visible`
        : '';
    };
    const ratio = [share('hidden'), share('frozen')].filter(Boolean).join(', ');
    const lines = rows.map(
      (r) =>
        `| ${r.sessions === 0 ? 'no session (idle service)' : `${r.sessions} × typical page, \`unwatched: "${r.unwatched}"\``} | ${n(r.perSessionPercent, 1)} | ${n(r.browsersPercent, 1)} | ${n(r.nodePercent, 1)} | ${r.sessions > 0 ? `${n(r.firstFrameMsP50)} ms` : '–'} |`,
    );
    return `## Live sessions nobody watches ${when}
CPU in % of one core over the run: the browsers (and nats-server) castpool started, and castpool's own
Node process. A hidden session's window is minimized: nothing drawn, scripts and timers run. A frozen
session's pages are frozen (Chromium's page lifecycle \`frozen\`) and its window minimized 3 s after
its last viewer: nothing runs. Then a viewer joins two of the sessions: time from its connection to its first decoded frame. ${ratio}.

| variant | per session | browsers + nats-server | castpool (Node) | first frame for a joining viewer (p50) |
|---|---|---|---|---|
${lines.join('\n')}`;
  },
};
