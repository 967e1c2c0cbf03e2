import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suiteProcesses } from './helpers/processes.js';
import { launchSharedViewerChromium } from './helpers/viewer-options.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Before the suite: a test root of this run's own and one viewer Chromium every file shares (workers
 * inherit both through the environment). After: no Chromium or ffmpeg it started may still run.
 */
export default async function setup() {
  const root = mkdtempSync(join(tmpdir(), 'castpool-test-'));
  chmodSync(root, 0o755); // castpool's Chromium runs as its own user and must reach its profiles
  process.env.CASTPOOL_TEST_ROOT = root;
  const viewer = await launchSharedViewerChromium(root);
  process.env.CASTPOOL_TEST_VIEWER_WS = viewer.wsEndpoint();
  return async () => {
    await viewer.close().catch(() => {});
    let left = suiteProcesses(root);
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await sleep(100);
      left = suiteProcesses(root);
    }
    rmSync(root, { recursive: true, force: true });
    if (left.length > 0) {
      for (const { pid } of left) process.kill(pid, 'SIGKILL');
      process.exitCode = 1; // a teardown error alone does not fail the run
      throw new Error(
        `orphan processes after the suite:\n${left.map((p) => `${p.pid} ${p.cmd}`).join('\n')}`,
      );
    }
  };
}
