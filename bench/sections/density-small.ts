import { density } from '../capacity.js';
import type { BenchSection } from '../section.js';
import { log, SECONDS } from '../util.js';
import { DENSITY_TABLE_HEAD, type DensityData, densityRow } from './density.js';

const STEPS = (process.env.BENCH_DENSITY_SMALL ?? '4,8,16').split(',').map(Number);
const SMALL = { width: 640, height: 360 };

/** Density at a quarter of the pixels: what a smaller viewport buys where 1280×720 saturates. */
export const densitySmallSection: BenchSection<DensityData> = {
  name: 'density-small',
  async run(pages) {
    const rows: DensityData = [];
    for (const sessions of STEPS) {
      log(`density: ${sessions} watched tab sessions of the typical page at 640×360, ${SECONDS} s…`);
      try {
        rows.push(await density(pages.typicalUrl, 'typical', 'tab', sessions, SMALL));
      } catch (error) {
        log(`density: ${sessions} at 640×360 failed: ${(error as Error).message}`);
      }
    }
    return rows;
  },
  render(rows, when) {
    return `## Density at 640×360 ${when}
As "Density" above (same joins, same columns), with every session's viewport at 640×360 instead of
1280×720: a quarter of the pixels to draw, capture and encode. Typical page, tab capture, 30 FPS.

${DENSITY_TABLE_HEAD}
${rows.map(densityRow).join('\n')}`;
  },
};
