import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Everything the suite creates on disk lives here, so the orphan check can find its processes. One
 * root per run (the global set-up makes it and passes it on in the environment): two runs on one
 * machine never remove each other's profiles.
 */
export const TEST_ROOT = process.env.CASTPOOL_TEST_ROOT ?? join(tmpdir(), 'castpool-test');
mkdirSync(TEST_ROOT, { recursive: true });
