import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Everything the suite creates on disk lives here, so the orphan check can find its processes. */
export const TEST_ROOT = join(tmpdir(), 'castpool-test');
mkdirSync(TEST_ROOT, { recursive: true });
