import type { startBenchPages } from './pages.js';
import { round } from './util.js';

export type BenchPages = Awaited<ReturnType<typeof startBenchPages>>;

/** One section of the benchmark: how to measure it, and how to show what was measured. */
export interface BenchSection<Data> {
  name: string;
  run(pages: BenchPages): Promise<Data>;
  /** Markdown for BENCHMARKS.md; `when` says how long each variant ran and when. */
  render(data: Data, when: string): string;
}

/** A number for a table: rounded, or – when missing. */
export const n = (value: number | undefined | null, digits = 0) =>
  value === undefined || value === null || Number.isNaN(value) ? '–' : String(round(value, digits));
