import type { Protocol } from 'puppeteer-core';
import { LatestFrameSlot } from '../../src/media/latest-frame-slot.js';
import { launchBenchBrowser, openBenchPage } from '../browser.js';
import { type BenchSection, n } from '../section.js';
import { groupCpuSeconds, log, nodeCpuSeconds, percentile, SECONDS, sleep, WARMUP_MS } from '../util.js';

/** The old way: a page.screenshot() loop, JPEG q80. */
async function screenshotLoop(url: string) {
  const browser = await launchBenchBrowser();
  try {
    const page = await openBenchPage(browser, url);
    const pgid = browser.process()?.pid ?? 0;
    const times: number[] = [];
    const cpu0 = groupCpuSeconds(pgid);
    const end = performance.now() + SECONDS * 1000;
    while (performance.now() < end) {
      const t0 = performance.now();
      await page.screenshot({ type: 'jpeg', quality: 80 });
      times.push(performance.now() - t0);
    }
    const chromiumCpu = groupCpuSeconds(pgid) - cpu0;
    return {
      fps: times.length / SECONDS,
      msPerFrameP50: percentile(times, 50),
      msPerFrameP95: percentile(times, 95),
      chromiumCpuPct: (chromiumCpu / SECONDS) * 100,
    };
  } finally {
    await browser.close();
  }
}

/** castpool's capture half: CDP screencast, ack at once, base64 → Buffer, latest-frame slot. No encoder. */
async function screencastCapture(url: string) {
  const browser = await launchBenchBrowser();
  try {
    const page = await openBenchPage(browser, url);
    const pgid = browser.process()?.pid ?? 0;
    const cdp = await page.createCDPSession();
    const slot = new LatestFrameSlot<Buffer>();
    const gaps: number[] = [];
    let frames = 0;
    let last = 0;
    let measuring = false;
    cdp.on('Page.screencastFrame', (frame: Protocol.Page.ScreencastFrameEvent) => {
      cdp.send('Page.screencastFrameAck', { sessionId: frame.sessionId }).catch(() => {});
      slot.put(Buffer.from(frame.data, 'base64'));
      slot.take();
      const now = performance.now();
      if (measuring) {
        frames++;
        if (last) gaps.push(now - last);
      }
      last = now;
    });
    await cdp.send('Page.startScreencast', { format: 'jpeg', quality: 80, maxWidth: 1280, maxHeight: 720 });
    await sleep(WARMUP_MS);
    const cpu0 = nodeCpuSeconds();
    const chromium0 = groupCpuSeconds(pgid);
    measuring = true;
    await sleep(SECONDS * 1000);
    measuring = false;
    const nodeCpu = nodeCpuSeconds() - cpu0;
    const chromiumCpu = groupCpuSeconds(pgid) - chromium0;
    await cdp.send('Page.stopScreencast');
    return {
      fps: frames / SECONDS,
      msPerFrameP50: percentile(gaps, 50),
      msPerFrameP95: percentile(gaps, 95),
      nodeMsPerFrame: (nodeCpu * 1000) / frames,
      chromiumCpuPct: (chromiumCpu / SECONDS) * 100,
    };
  } finally {
    await browser.close();
  }
}

type CaptureData = {
  screenshot: Awaited<ReturnType<typeof screenshotLoop>>;
  screencast: Awaited<ReturnType<typeof screencastCapture>>;
  speedup: number;
};

export const captureSection: BenchSection<CaptureData> = {
  name: 'capture',
  async run(pages) {
    log(`screenshot loop, ${SECONDS} s…`);
    const screenshot = await screenshotLoop(pages.animatedUrl);
    log(`screencast capture (no encoder), ${SECONDS} s…`);
    const screencast = await screencastCapture(pages.animatedUrl);
    return { screenshot, screencast, speedup: screencast.fps / screenshot.fps };
  },
  render(capture, when) {
    const { screenshot: s, screencast: c } = capture;
    return `## Capture: the old way vs castpool's screencast ${when}
| variant | FPS | ms per frame p50 / p95 | our CPU per frame | Chromium CPU |
|---|---|---|---|---|
| \`page.screenshot()\` loop, JPEG q80 | ${n(s.fps, 1)} | ${n(s.msPerFrameP50, 1)} / ${n(s.msPerFrameP95, 1)} (call time) | – | ${n(s.chromiumCpuPct)} % |
| CDP screencast → latest-frame slot (no encoder) | ${n(c.fps, 1)} | ${n(c.msPerFrameP50, 1)} / ${n(c.msPerFrameP95, 1)} (frame gap) | ${n(c.nodeMsPerFrame, 2)} ms (Node) | ${n(c.chromiumCpuPct)} % |
| **ratio** | **${n(capture.speedup, 2)}×** | | | |`;
  },
};
