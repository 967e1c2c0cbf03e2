import { avOffsets, median, watchOnsets } from '../../test/helpers/av-sync.js';
import { startTestPages } from '../../test/helpers/test-pages.js';
import { launchBenchBrowser, openWatching } from '../browser.js';
import { type BenchSection, n } from '../section.js';
import {
  log,
  nodeCpuSeconds,
  percentile,
  SECONDS,
  sleep,
  startedCpuSeconds,
  startService,
  WARMUP_MS,
} from '../util.js';

/** The /tone page beeps (and flashes white) once a second. */
const BEEP_PERIOD_MS = 1000;

/**
 * One watched tab-capture session of the /tone page, with its sound streamed or not, in one run: what
 * the sound costs the session (the capture's Opus encode, the relay), and — with sound — how far the
 * viewer hears a beep from seeing its flash.
 */
async function toneSession(url: string, audio: boolean) {
  const { app, castpool, commands, base } = await startService();
  const viewer = await launchBenchBrowser();
  try {
    const session = await commands.sessions.create({
      url,
      fps: 30,
      viewport: { width: 640, height: 360 },
      capture: 'tab',
      audio,
    });
    await sleep(WARMUP_MS);
    const page = await openWatching(viewer, `${base}/api/sessions/${session.id}/view`);
    // A click in the picture is the person's gesture that lets the page's AudioContext start.
    const box = await page.$eval('#video', (video) => video.getBoundingClientRect().toJSON());
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await sleep(WARMUP_MS);
    const node0 = nodeCpuSeconds();
    const children0 = startedCpuSeconds(castpool);
    const t0 = performance.now();
    const onsets = await watchOnsets(page, SECONDS * 1000);
    const elapsed = (performance.now() - t0) / 1000;
    const nodeCpu = nodeCpuSeconds() - node0;
    const childrenCpu = startedCpuSeconds(castpool) - children0;
    const offsets = avOffsets(onsets, BEEP_PERIOD_MS);
    return {
      sessionCpuPct: ((childrenCpu + nodeCpu) / elapsed) * 100,
      nodeCpuPct: (nodeCpu / elapsed) * 100,
      flashesSeen: onsets.seen.length,
      beepsHeard: onsets.heard.length,
      offsetMsP50: audio ? median(offsets) : undefined,
      offsetMsMin: audio && offsets.length ? Math.min(...offsets) : undefined,
      offsetMsMax: audio && offsets.length ? Math.max(...offsets) : undefined,
      offsetMsP90Abs: audio && offsets.length ? percentile(offsets.map(Math.abs), 90) : undefined,
    };
  } finally {
    await viewer.close();
    await app.close();
  }
}

type AudioData = Record<string, Awaited<ReturnType<typeof toneSession>>>;

export const audioSection: BenchSection<AudioData> = {
  name: 'audio',
  async run() {
    const pages = await startTestPages();
    const rows: AudioData = {};
    try {
      for (const audio of [false, true]) {
        const name = audio ? 'audio: true' : 'audio: false';
        log(`audio: tone page, ${name}, one viewer…`);
        rows[name] = await toneSession(pages.url(`/tone?period=${BEEP_PERIOD_MS}`), audio);
      }
    } finally {
      await pages.close();
    }
    return rows;
  },
  render(data, when) {
    const rows = Object.entries(data).map(
      ([name, r]) =>
        `| ${name} | ${n(r.sessionCpuPct, 1)} % | ${n(r.nodeCpuPct, 1)} % | ${r.flashesSeen} | ${r.beepsHeard} | ${n(r.offsetMsP50)} | ${n(r.offsetMsMin)} … ${n(r.offsetMsMax)} | ${n(r.offsetMsP90Abs)} |`,
    );
    return `## Audio: what the sound costs, and how well it keeps with the picture ${when}
One tab-capture session (640×360) of a page that beeps once a second and turns white while it beeps
(a small square spins in a corner, so frames flow all the time: CPU is not comparable with runs before
2026-12-05, which had none), watched by a real Chromium viewer that clicked into the picture (the
gesture that lets the page's sound start), without and with \`audio: true\`. Session CPU = its
Chromium and castpool's Node (the viewer's Chromium, on the same cores, is not counted). The viewer
notes when a frame turns white (at the frame's expected display time) and when a beep starts (an
analyser on the received track, read every 4 ms); offset = beep heard − flash seen, positive when the
sound is late (ITU-R BT.1359 finds sound up to ~45 ms early or ~125 ms late undetectable).

| session | session CPU | of it Node | flashes seen | beeps heard | offset p50 ms | offset range ms | |offset| p90 ms |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}`;
  },
};
