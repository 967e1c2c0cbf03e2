import { rmSync } from 'node:fs';
import { suiteProcesses } from './helpers/processes.js';
import { TEST_ROOT } from './helpers/test-root.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** After the whole suite: no Chromium or ffmpeg it started may still run. */
export default function setup() {
  return async () => {
    let left = suiteProcesses(TEST_ROOT);
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await sleep(100);
      left = suiteProcesses(TEST_ROOT);
    }
    rmSync(TEST_ROOT, { recursive: true, force: true });
    if (left.length > 0) {
      for (const { pid } of left) process.kill(pid, 'SIGKILL');
      process.exitCode = 1; // a teardown error alone does not fail the run
      throw new Error(
        `orphan processes after the suite:\n${left.map((p) => `${p.pid} ${p.cmd}`).join('\n')}`,
      );
    }
  };
}
