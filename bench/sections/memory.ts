import { MEMORY_VARIANTS, memoryAndResume } from '../capacity.js';
import { type BenchSection, n } from '../section.js';
import { log } from '../util.js';

type MemoryData = Awaited<ReturnType<typeof memoryAndResume>>[];

export const memorySection: BenchSection<MemoryData> = {
  name: 'memory',
  async run(pages) {
    const rows: MemoryData = [];
    for (const variant of MEMORY_VARIANTS) {
      log(`memory: ${variant.name}, 6 streaming → hibernated sessions, resume time…`);
      rows.push(await memoryAndResume(pages.typicalUrl, 6, variant));
    }
    return rows;
  },
  render(memory, when) {
    const rows = memory.map(
      (v) =>
        `| ${v.variant} | ${n(v.streamingPssPerSessionMb)} MB | ${n(v.idlePssPerSessionMb)} MB | ${n(v.hibernatedPssPerSessionMb, 1)} MB + ${n(v.hibernatedHeapPerSessionMb, 2)} MB heap | ${n(v.resumeP50Ms)} / ${n(v.resumeP95Ms)} ms |`,
    );
    return `## Memory per session and resume time (typical page, ${memory[0]?.sessions ?? 6} sessions) ${when}
Extra PSS of the whole Chromium process tree (and the screencast's ffmpeg) per session, against the
service holding one idle session; tab capture unless the variant says screencast, encoding H.264
for viewers that take it (all but the VP8 variant); the hibernated column adds castpool's heap per
hibernated session. Resume: \`resume\` until the page is at its URL again.

| variant | streaming | idle (not watched) | hibernated | resume p50 / p95 |
|---|---|---|---|---|
${rows.join('\n')}`;
  },
};
