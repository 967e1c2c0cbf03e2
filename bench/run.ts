/**
 * castpool benchmark: the variants side by side, one run, same page, same machine.
 *   npm run bench                          every section (BENCH_SECONDS=15 per variant)
 *   BENCH_ONLY=memory,held npm run bench   some sections; the others keep their last results
 * Prints a table, writes bench/results/latest.json and BENCHMARKS.md (each section with its date).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { removeTestRootIfEmpty } from '../test/helpers/test-root.js';
import { machine } from './machine.js';
import { startBenchPages } from './pages.js';
import { render, SECTIONS, type Stored } from './report.js';
import { removeBenchRoot, SECONDS } from './util.js';

const RESULTS = 'bench/results/latest.json';

async function main() {
  const names = SECTIONS.map((s) => s.name);
  const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
  const unknown = only?.filter((s) => !names.includes(s));
  if (unknown?.length)
    throw new Error(`BENCH_ONLY: unknown sections ${unknown.join(', ')} (${names.join(', ')})`);
  let stored: Stored = {};
  try {
    stored = JSON.parse(readFileSync(RESULTS, 'utf8')) as Stored;
    if (!('capture' in stored) || typeof stored.capture !== 'object') stored = {}; // the older flat format
  } catch {
    // first run
  }
  const pages = await startBenchPages();
  try {
    for (const section of SECTIONS.filter((s) => !only || only.includes(s.name))) {
      const data = await section.run(pages);
      stored[section.name] = { date: new Date().toISOString(), seconds: SECONDS, data };
      stored.machine = machine();
      writeFileSync(RESULTS, `${JSON.stringify(stored, null, 2)}\n`);
    }
    const table = render(stored);
    process.stdout.write(`${table}\n`);
    writeFileSync('BENCHMARKS.md', table);
  } finally {
    await pages.close();
    removeBenchRoot();
    // The test helpers some sections use made the tests' root on import.
    removeTestRootIfEmpty();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
