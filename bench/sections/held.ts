import { heldSessions } from '../capacity.js';
import { type BenchSection, n } from '../section.js';
import { log } from '../util.js';

const HELD_TARGET = Number(process.env.BENCH_HELD ?? 200);

type HeldData = Awaited<ReturnType<typeof heldSessions>>;

export const heldSection: BenchSection<HeldData> = {
  name: 'held',
  run(pages) {
    log(`held: ${HELD_TARGET} sessions, 2 watched, the rest hibernated…`);
    return heldSessions(pages.typicalUrl, HELD_TARGET, 2);
  },
  render(held, when) {
    return `## Sessions held on one host ${when}
${held.watched} sessions streaming (tab capture, typical page, werift viewers in their own process) while the rest are created
in batches of 8 and hibernated.

| measure | value |
|---|---|
| sessions held | ${held.held} (${Object.entries(held.states)
      .map(([state, count]) => `${count} ${state}`)
      .join(', ')}) |
| time to create and hibernate them | ${n(held.fillSeconds)} s${held.tenthSeconds ? ` (each tenth: ${held.tenthSeconds.join(', ')} s)` : ''} |
| lowest FPS of the watched sessions, with all of them held | ${n(held.watchedMinFps, 1)} |
| browsers running | ${held.browsers} |
| Chromium PSS / castpool RSS | ${n(held.chromiumPssMb)} MB / ${n(held.nodeRssMb)} MB |
| castpool heap per hibernated session | ${n(held.heapPerHibernatedKb, 1)} kB |
| resume of a held session (p50 of 5) | ${n(held.resumeP50Ms)} ms |
| watched sessions' state changes after they started streaming | ${held.watchedChanges?.filter((c) => !/(launching|idle → streaming)/.test(c)).join('; ') || 'none'} |`;
  },
};
