import { fanOut } from '../fanout.js';
import { type BenchSection, n } from '../section.js';
import { log, SECONDS } from '../util.js';

const FANOUT_STEPS = (process.env.BENCH_FANOUT ?? '25,50,100').split(',').map(Number);
const FARMS = 2;

type FanOutData = Awaited<ReturnType<typeof fanOut>>[];

export const fanOutSection: BenchSection<FanOutData> = {
  name: 'fanout',
  async run(pages) {
    const rows: FanOutData = [];
    for (const viewers of FANOUT_STEPS) {
      log(`fanout: ${viewers} viewers of one full-motion session, ${SECONDS} s…`);
      try {
        rows.push(await fanOut(pages.animatedUrl, viewers, FARMS));
      } catch (error) {
        log(`fanout: ${viewers} viewers failed: ${(error as Error).message}`);
      }
    }
    return rows;
  },
  render(rows, when) {
    const lines = rows.map(
      (r) =>
        `| ${r.viewers} | ${r.connected} / ${r.failedJoins} (${n(r.joinSeconds, 1)} s) | ${n(r.medianConnectMs)} / ${r.slowestConnectMs === null ? 'never' : `${n(r.slowestConnectMs)}`} ms | ${n(r.minFps, 1)} / ${n(r.medianFps, 1)} | ${r.viewersUnder28} | ${n(r.castpoolCpuPct)} % | ${n(r.loopDelayP99Ms, 1)} ms | ${n(r.browserCpuPct)} % | ${n(r.farmsCpuPct)} % | ${n(r.hostCpuPct)} % | ${n(r.megabitsOut, 1)} |`,
    );
    return `## Fan-out: one session, many viewers ${when}
One full-motion session (1280×720, 30 FPS, tab capture: one encode); its viewers are werift WHEP
clients (receive and count, no decoding) in ${FARMS} processes of their own, joining 10 at a time. They
share this host's 2 cores with castpool and the session's browser, so the farms' own SRTP work competes
with what is measured. CPU in % of one core; castpool's row is its Node process (relay, SRTP, RTCP for
every viewer); "loop p99" is its event loop's delay.

| viewers | connected / failed (join time) | connect p50 / slowest | FPS min / median | viewers < 28 FPS | castpool | loop p99 | browser | farms | host | Mbit/s out |
|---|---|---|---|---|---|---|---|---|---|---|
${lines.join('\n')}`;
  },
};
