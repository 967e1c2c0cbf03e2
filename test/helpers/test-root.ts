import { mkdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Everything the suite creates on disk lives here, so the orphan check can find its processes. One
 * root per run (the global set-up makes it and passes it on in the environment): two runs on one
 * machine never remove each other's profiles.
 */
export const TEST_ROOT = process.env.CASTPOOL_TEST_ROOT ?? join(tmpdir(), 'castpool-test');
mkdirSync(TEST_ROOT, { recursive: true });

/** Removes the root if nothing is left in it (tools that import the helpers, such as the bench). */
export function removeTestRootIfEmpty(): void {
  try {
    rmdirSync(TEST_ROOT);
  } catch {
    // not empty (a test run's), or gone
  }
}
