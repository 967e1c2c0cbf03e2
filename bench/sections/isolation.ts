import type { Page } from 'puppeteer-core';
import { decodedFpsOver, launchBenchBrowser, openWatching } from '../browser.js';
import { type BenchSection, n } from '../section.js';
import { log, SECONDS, sleep, startService, VIEWPORT, WARMUP_MS } from '../util.js';

type Variant = 'alone' | 'busy neighbour, no cgroups' | 'busy neighbour, cgroups';
const VARIANTS: Variant[] = ['alone', 'busy neighbour, no cgroups', 'busy neighbour, cgroups'];

/**
 * A watched typical session (priority 8) beside an unwatched page stuck in busy loops on eight threads
 * (priority 2), each in a browser of its own: the frames its viewer decodes, with and without the
 * CPU groups that weigh browsers by priority.
 */
async function isolation(pages: { typicalUrl: string; busyUrl: string }, variant: Variant) {
  const { app, commands, base, castpool } = await startService({
    sessionsPerBrowser: 1,
    cgroupRoot: variant === 'busy neighbour, no cgroups' ? '' : '/sys/fs/cgroup',
  });
  const viewer = await launchBenchBrowser();
  try {
    const watched = await commands.sessions.create({
      url: pages.typicalUrl,
      fps: 30,
      viewport: VIEWPORT,
      capture: 'tab',
      priority: 8,
    });
    if (variant !== 'alone') await commands.sessions.create({ url: pages.busyUrl, priority: 2 });
    const page = await openWatching(viewer, `${base}/api/sessions/${watched.id}/view`);
    await sleep(WARMUP_MS + 1000);
    const [fps = 0] = await decodedFpsOver([page], SECONDS * 1000);
    return { variant, viewerFps: fps, cgroups: castpool.cpuGroups.unavailable ?? 'on' };
  } finally {
    await viewer.close();
    await app.close();
  }
}

/**
 * Four watched typical sessions on two cores (saturated: ~15 FPS each when alike), one of priority 8
 * and three of priority 2, each in its own browser; the capture budget left out (a fixed ceiling of
 * none), so what holds the important one is the kernel's weights alone.
 */
async function saturated(url: string, cgroups: boolean) {
  const { app, commands, base } = await startService({
    sessionsPerBrowser: 1,
    cgroupRoot: cgroups ? '/sys/fs/cgroup' : '',
    captureBudget: { adaptive: false, totalFps: 0 },
  });
  const viewer = await launchBenchBrowser();
  try {
    const pagesOpen: Page[] = [];
    for (const priority of [8, 2, 2, 2]) {
      const session = await commands.sessions.create({
        url,
        fps: 30,
        viewport: VIEWPORT,
        capture: 'tab',
        priority,
      });
      pagesOpen.push(await openWatching(viewer, `${base}/api/sessions/${session.id}/view`));
    }
    await sleep(WARMUP_MS + 1000);
    const fps = await decodedFpsOver(pagesOpen, SECONDS * 1000);
    const lows = fps.slice(1);
    return { cgroups, highFps: fps[0] ?? 0, lowFpsMean: lows.reduce((a, b) => a + b, 0) / lows.length };
  } finally {
    await viewer.close();
    await app.close();
  }
}

interface IsolationData {
  neighbour: Awaited<ReturnType<typeof isolation>>[];
  saturated: Awaited<ReturnType<typeof saturated>>[];
}

export const isolationSection: BenchSection<IsolationData> = {
  name: 'isolation',
  async run(pages) {
    const data: IsolationData = { neighbour: [], saturated: [] };
    for (const variant of VARIANTS) {
      log(`isolation: a watched typical session, ${variant}…`);
      data.neighbour.push(await isolation(pages, variant));
    }
    for (const cgroups of [false, true]) {
      log(`isolation: 4 watched sessions (priorities 8, 2, 2, 2), cgroups ${cgroups ? 'on' : 'off'}…`);
      data.saturated.push(await saturated(pages.typicalUrl, cgroups));
    }
    return data;
  },
  render({ neighbour: rows, saturated: busy }, when) {
    const alone = rows.find((r) => r.variant === 'alone')?.viewerFps;
    const lines = rows.map(
      (r) =>
        `| ${r.variant} | ${n(r.viewerFps, 1)} | ${alone ? `${n((r.viewerFps / alone) * 100)} %` : '–'} | ${r.cgroups} |`,
    );
    return `## Isolation: a page in a busy loop next door ${when}
A watched typical page (tab capture, 30 FPS, priority 8) in a browser of its own, alone or beside an
unwatched page spinning on eight threads (priority 2) in another browser; the frames per second its
viewer decodes. With CPU groups (\`cgroupRoot\`), each browser's \`cpu.shares\` follow its priority.

| variant | viewer FPS | of alone | CPU groups |
|---|---|---|---|
${lines.join('\n')}

Saturated: four watched typical pages (tab, 30 FPS) on two cores, one of priority 8 and three of
priority 2, each in a browser of its own; the capture budget off, so only the kernel's weights differ.

| CPU groups | priority 8 viewer FPS | priority 2 viewers, mean FPS | ratio |
|---|---|---|---|
${busy.map((r) => `| ${r.cgroups ? 'on' : 'off'} | ${n(r.highFps, 1)} | ${n(r.lowFpsMean, 1)} | ${n(r.highFps / r.lowFpsMean, 2)} |`).join('\n')}`;
  },
};
