import { chmodSync, mkdtempSync, readdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteLabNamespace, orphanLabNamespaces } from './helpers/lab-namespaces.js';
import { suiteProcesses } from './helpers/processes.js';
import { launchSharedViewerChromium } from './helpers/viewer-options.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Before the suite: a test root of this run's own and one viewer Chromium every file shares (workers
 * inherit both through the environment). After: no Chromium or ffmpeg it started may still run.
 */
/** CPU groups castpool made during the suite that are still there (each service removes its own). */
function leftCpuGroups(since: number): string[] {
  const hierarchy = '/sys/fs/cgroup/cpu';
  try {
    return readdirSync(hierarchy)
      .filter((name) => name.startsWith('castpool-') && statSync(join(hierarchy, name)).mtimeMs >= since)
      .map((name) => join(hierarchy, name));
  } catch {
    return []; // no cgroup v1 cpu hierarchy here
  }
}

export default async function setup() {
  const startedAt = Date.now() - 1000;
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
    // Every worker has ended now: a lab namespace still named after one was not torn down.
    const namespaces = orphanLabNamespaces();
    if (namespaces.length > 0) {
      for (const name of namespaces) deleteLabNamespace(name);
      process.exitCode = 1;
      throw new Error(`network namespaces left after the suite (removed now):\n${namespaces.join('\n')}`);
    }
    const groups = leftCpuGroups(startedAt);
    if (groups.length > 0) {
      for (const group of groups) {
        for (const host of readdirSync(group, { withFileTypes: true }).filter((e) => e.isDirectory()))
          rmdirSync(join(group, host.name));
        rmdirSync(group);
      }
      process.exitCode = 1;
      throw new Error(`CPU groups left after the suite (removed now):\n${groups.join('\n')}`);
    }
  };
}
