import type { Browser, Page } from 'puppeteer-core';
import { buildNetworkLab, LAB, labAvailable } from '../../test/helpers/network-lab.js';
import { decodedNow } from '../../test/helpers/viewer.js';
import { launchBenchBrowser, openWatching } from '../browser.js';
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

const CAP_KBIT = 500;
const LOSS_PERCENT = 3;

/** Samples pages every 250 ms for `ms`: frames per second, widths seen, the longest time without a new frame. */
async function sample(pages: Page[], ms: number) {
  const started = Date.now();
  const first = await Promise.all(pages.map(decodedNow));
  const last = first.map((s) => ({ frames: s.frames, at: started }));
  const stall = pages.map(() => 0);
  const widths = pages.map(() => [] as number[]);
  while (Date.now() - started < ms) {
    await sleep(250);
    const now = Date.now();
    (await Promise.all(pages.map(decodedNow))).forEach((s, i) => {
      widths[i]?.push(s.width);
      const seen = last[i] as { frames: number; at: number };
      if (s.frames > seen.frames) Object.assign(seen, { frames: s.frames, at: now });
      stall[i] = Math.max(stall[i] ?? 0, now - seen.at);
    });
  }
  const seconds = (Date.now() - started) / 1000;
  return pages.map((_, i) => ({
    fps: ((last[i]?.frames ?? 0) - (first[i]?.frames ?? 0)) / seconds,
    longestStallMs: stall[i] ?? 0,
    medianWidth: [...(widths[i] ?? [0])].sort((a, b) => a - b)[Math.floor((widths[i]?.length ?? 1) / 2)] ?? 0,
  }));
}

/**
 * One full-motion 1280×720 tab-captured session, two viewers: one on this host, one in a network
 * namespace capped at 500 kbit/s with 3 % loss (tc tbf, nft), with simulcast (per-viewer layers) on or
 * off. Also what the session costs with one clean viewer, simulcast on or off.
 */
async function variant(url: string, simulcast: boolean) {
  const lab = await buildNetworkLab();
  const { app, castpool, commands, base } = await startService({
    host: LAB.castpool,
    encoder: { simulcast, bitrateKbps: 2500 },
  });
  let slowBrowser: Browser | undefined;
  const cleanBrowser = await launchBenchBrowser();
  try {
    slowBrowser = await lab.launchViewer();
    const session = await commands.sessions.create({ url, fps: 30, viewport: VIEWPORT, capture: 'tab' });
    await sleep(WARMUP_MS);
    const viewUrl = `${base}/api/sessions/${session.id}/view`;
    const clean = await openWatching(cleanBrowser, viewUrl);
    await sleep(WARMUP_MS);
    // The session's cost with its clean viewer alone.
    const node0 = nodeCpuSeconds();
    const children0 = startedCpuSeconds(castpool);
    const t0 = performance.now();
    const [alone] = await sample([clean], SECONDS * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const sessionCpuPct =
      ((startedCpuSeconds(castpool) - children0 + nodeCpuSeconds() - node0) / elapsed) * 100;
    const slow = await openWatching(slowBrowser, viewUrl);
    await sleep(WARMUP_MS);
    lab.limitViewer(CAP_KBIT);
    lab.viewerFirewall(`table inet lab {
      chain in { type filter hook input priority 0; policy accept;
        meta l4proto udp numgen random mod 100 < ${LOSS_PERCENT} drop
      }
    }`);
    await sleep(5000); // adaptation (or the lack of it) settles
    const [slowCapped, cleanBeside] = await sample([slow, clean], SECONDS * 1000);
    lab.limitViewer(null);
    lab.viewerFirewall('table inet lab { }');
    const lifted = Date.now();
    let backMs: number | undefined;
    while (Date.now() - lifted < 20_000) {
      if ((await decodedNow(slow)).width === 1280) {
        backMs = Date.now() - lifted;
        break;
      }
      await sleep(100);
    }
    return { sessionCpuPct, alone, slowCapped, cleanBeside, backMs };
  } finally {
    await slowBrowser?.close().catch(() => {});
    await cleanBrowser.close();
    await app.close();
    await lab.close();
  }
}

type AdaptationData = Record<string, Awaited<ReturnType<typeof variant>>>;

export const adaptationSection: BenchSection<AdaptationData> = {
  name: 'adaptation',
  async run(pages) {
    const rows: AdaptationData = {};
    if (!labAvailable()) {
      log('adaptation: needs root (network namespaces); skipped');
      return rows;
    }
    for (const simulcast of [false, true]) {
      const name = simulcast ? 'simulcast, per-viewer layers' : 'one layer';
      log(`adaptation: ${name}…`);
      rows[name] = await variant(pages.animatedUrl, simulcast);
    }
    return rows;
  },
  render(data, when) {
    const rows = Object.entries(data).map(
      ([name, r]) =>
        `| ${name} | ${n(r.sessionCpuPct)} % | ${n(r.alone?.fps, 1)} | ${n(r.slowCapped?.fps, 1)} @ ${n(r.slowCapped?.medianWidth)} px, longest stall ${n(r.slowCapped?.longestStallMs)} ms | ${n(r.cleanBeside?.fps, 1)} @ ${n(r.cleanBeside?.medianWidth)} px, longest stall ${n(r.cleanBeside?.longestStallMs)} ms | ${r.backMs === undefined ? 'not within 20 s' : `${n(r.backMs)} ms`} |`,
    );
    return `## Per-viewer adaptation: a viewer at ${CAP_KBIT} kbit/s with ${LOSS_PERCENT} % loss beside a clean one ${when}
One full-motion 1280×720 tab-captured session at 30 FPS (encoder at 2500 kbit/s). Session CPU with one
clean viewer (its Chromium, castpool's Node; the viewers' Chromiums not counted). Then a second viewer
in a network namespace, capped by \`tc tbf\` (200 ms queue) and \`nft\` dropping 3 % of its UDP; both
sampled every 250 ms (frames from each peer connection's stats) after 5 s to settle. Lifted: time until
the capped viewer decodes the full 1280 px picture again.

| variant | session CPU (one viewer) | clean viewer alone FPS | capped viewer | clean viewer beside it | capped viewer back to 1280 px |
|---|---|---|---|---|---|
${rows.join('\n')}`;
  },
};
