import { cpus } from 'node:os';
import { machine } from './machine.js';
import type { BenchSection } from './section.js';
import { adaptationSection } from './sections/adaptation.js';
import { admissionSection } from './sections/admission.js';
import { audioSection } from './sections/audio.js';
import { captureSection } from './sections/capture.js';
import { cdpSection } from './sections/cdp.js';
import { changesSection } from './sections/changes.js';
import { densitySection } from './sections/density.js';
import { densitySmallSection } from './sections/density-small.js';
import { fanOutSection } from './sections/fanout.js';
import { heldSection } from './sections/held.js';
import { isolationSection } from './sections/isolation.js';
import { joinSection } from './sections/join.js';
import { memorySection } from './sections/memory.js';
import { natsSection } from './sections/nats.js';
import { recordingSection } from './sections/recording.js';
import { renderSection } from './sections/render.js';
import { strategiesSection } from './sections/strategies.js';
import { threadsSection } from './sections/threads.js';
import { unwatchedSection } from './sections/unwatched.js';

/** Every section, in the order BENCHMARKS.md shows them. */
// biome-ignore lint/suspicious/noExplicitAny: each section has its own data type
export const SECTIONS: BenchSection<any>[] = [
  captureSection,
  strategiesSection,
  threadsSection,
  joinSection,
  densitySection,
  densitySmallSection,
  admissionSection,
  fanOutSection,
  adaptationSection,
  recordingSection,
  audioSection,
  changesSection,
  unwatchedSection,
  renderSection,
  isolationSection,
  memorySection,
  heldSection,
  natsSection,
  cdpSection,
];
export type Stored = Partial<Record<string, { date: string; seconds: number; data: unknown }>> & {
  machine?: ReturnType<typeof machine>;
};

/** BENCHMARKS.md from the stored results: the machine, then each section that has run. */
export function render(stored: Stored): string {
  const out: string[] = [];
  const m = stored.machine ?? machine();
  out.push(`# Benchmarks

Made by \`npm run bench\` (each section says when it last ran; \`BENCH_ONLY=<section>\` reruns one).
Pages, served from 127.0.0.1 at 1280×720: **full-motion** — a canvas repainting fully on every animation
frame (worst case); **typical** — an article with a 64×64 CSS spinner (in the latency runs, a small
time-code strip changes every frame instead, which costs the same: capture cost follows frames, not area).

Machine: ${m.cpu}, ${m.memoryGiB} GiB, ${m.os}; ${m.node}; ${m.chromium}; ${m.ffmpeg}.
CPU % is of one core (the machine has ${cpus().length * 100}).`);

  for (const section of SECTIONS) {
    const entry = stored[section.name] as { date: string; seconds: number; data: unknown } | undefined;
    if (entry) out.push(section.render(entry.data, `(${entry.seconds} s per variant, ${entry.date})`));
  }
  out.push('Raw numbers: `bench/results/latest.json`.\n');
  return out.join('\n\n');
}
