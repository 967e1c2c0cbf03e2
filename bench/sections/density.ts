import { density } from '../capacity.js';
import { type BenchSection, n } from '../section.js';
import { log, SECONDS } from '../util.js';

const DENSITY_STEPS = (process.env.BENCH_DENSITY ?? '1,2,4,8,16,32').split(',').map(Number);

export type DensityData = Awaited<ReturnType<typeof density>>[];

export const DENSITY_TABLE_HEAD = `| page | strategy | sessions | watched / refused | FPS min / median | slowest connect | host CPU | CPU per session | budget (FPS) | under 1 FPS: session/viewer state |
|---|---|---|---|---|---|---|---|---|---|`;

/** The cells the density tables share, worded once. */
export function densityCells(d: DensityData[number]) {
  return {
    watched: `${d.watched ?? d.sessions} / ${d.refused ?? 0}${d.admittedWithinMs ? ` (in ${n(d.admittedWithinMs / 1000, 1)} s)` : ''}`,
    fps: `${n(d.minFps, 1)} / ${n(d.medianFps, 1)}`,
    connect:
      d.slowestConnectMs === undefined
        ? '–'
        : d.slowestConnectMs === null
          ? 'never'
          : `${n(d.slowestConnectMs)} ms`,
    hostCpu: `${n(d.totalCpuPct)} %`,
  };
}

/** One variant's row of the density tables. */
export function densityRow(d: DensityData[number]): string {
  const c = densityCells(d);
  return `| ${d.page ?? 'typical'} | ${d.capture} | ${d.sessions} | ${c.watched} | ${c.fps} | ${c.connect} | ${c.hostCpu} | ${n(d.cpuPerSessionPct)} % | ${n(d.budgetTotalFps)} | ${
    Object.entries(d.starved ?? {})
      .map(([why, count]) => `${count}× ${why}`)
      .join(', ') || '–'
  } |`;
}

export const densitySection: BenchSection<DensityData> = {
  name: 'density',
  async run(pages) {
    const rows: DensityData = [];
    for (const [page, url] of [
      ['typical', pages.typicalUrl],
      ['full-motion', pages.animatedUrl],
    ] as const)
      for (const capture of ['screencast', 'tab'] as const)
        for (const sessions of DENSITY_STEPS) {
          log(`density: ${sessions} watched ${capture} sessions of the ${page} page, ${SECONDS} s…`);
          try {
            rows.push(await density(url, page, capture, sessions));
          } catch (error) {
            log(`density: ${sessions} ${capture} ${page} failed: ${(error as Error).message}`);
          }
        }
    return rows;
  },
  render(densities, when) {
    const rows = densities.map(densityRow);
    return `## Density: N watched sessions on this 2-core host ${when}
Each session at 30 FPS; once all are created, every one's first viewer joins at once: a light WHEP
client (werift in a process of its own, like a remote player: receives and counts, does not decode);
4 sessions per browser. A viewer refused with \`503 host_saturated\` (host hot, budget without a floor
left, or captures still warming up) comes back as its \`Retry-After\` says, for up to 60 s. Watched /
refused: viewers in at the end of that (and when the last got in), and those still refused. FPS per watched session:
lowest / median; slowest connect: the slowest viewer's WHEP offer to \`connected\`; the capture budget's
CPU limit on the total at the end of the run (– = not limited). Host CPU includes the viewers' process,
which shares the cores with castpool here.

${DENSITY_TABLE_HEAD}
${rows.join('\n')}`;
  },
};
