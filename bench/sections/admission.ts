import { density } from '../capacity.js';
import type { BenchSection } from '../section.js';
import { log, SECONDS } from '../util.js';
import { type DensityData, densityCells } from './density.js';

const STEPS = (process.env.BENCH_ADMISSION ?? '8,16').split(',').map(Number);
/** 1 takes a watcher while the average share stays over the floor; 2 is the default margin. */
const FACTORS = (process.env.BENCH_ADMISSION_FACTORS ?? '1,2').split(',').map(Number);

type AdmissionData = (DensityData[number] & { saturatedAdmitFactor: number })[];

/**
 * Target 2 of issue 17 (nobody starved): the same burst of first viewers as `density`, with the
 * admission margin of a host at its limit (`captureBudget.saturatedAdmitFactor`) side by side.
 */
export const admissionSection: BenchSection<AdmissionData> = {
  name: 'admission',
  async run(pages) {
    const rows: AdmissionData = [];
    for (const sessions of STEPS)
      for (const factor of FACTORS) {
        log(`admission: ${sessions} tab sessions, saturatedAdmitFactor ${factor}, ${SECONDS} s…`);
        try {
          const row = await density(pages.typicalUrl, 'typical', 'tab', sessions, undefined, {
            saturatedAdmitFactor: factor,
          });
          rows.push({ ...row, saturatedAdmitFactor: factor });
        } catch (error) {
          log(`admission: ${sessions} × factor ${factor} failed: ${(error as Error).message}`);
        }
      }
    return rows;
  },
  render(rows, when) {
    return `## Admission: nobody starved ${when}
As "Density" (typical page, tab capture, 1280×720, 30 FPS; every first viewer at once, a refused one
back as its \`Retry-After\` says for up to 60 s), with \`captureBudget.saturatedAdmitFactor\` side by
side: on a host at its limit (CPU over \`cpuHigh\`, or over \`cpuLow\` while a watched session falls
behind) another session's first viewer is taken only if the frames delivered now, shared by one more,
leave each \`minSessionFps\` (5) this many times over. "Under 5 FPS": admitted sessions that got less.

| factor | sessions | watched / refused | FPS min / median | under 5 FPS | slowest connect | host CPU |
|---|---|---|---|---|---|---|
${rows
  .map((r) => {
    const c = densityCells(r);
    return `| ${r.saturatedAdmitFactor} | ${r.sessions} | ${c.watched} | ${c.fps} | ${r.underFloor} | ${c.connect} | ${c.hostCpu} |`;
  })
  .join('\n')}`;
  },
};
