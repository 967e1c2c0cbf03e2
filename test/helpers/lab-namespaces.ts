import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

/**
 * The network lab's namespaces, `castpool-test-<pid>-<role>`, named after the test process that made
 * them (apart from network-lab.ts so the suite's teardown can check them without a test root).
 */
export const LAB_PREFIX = 'castpool-test-';

export const sh = (command: string, args: string[]) =>
  execFileSync(command, args, { stdio: 'pipe' }).toString();

export function labNamespaces(): string[] {
  if (!existsSync('/run/netns')) return [];
  return readdirSync('/run/netns').filter((name) => name.startsWith(LAB_PREFIX));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Namespaces whose test process has ended: left by a run that died, or by a teardown that failed. */
export function orphanLabNamespaces(): string[] {
  return labNamespaces().filter((name) => !alive(Number(name.slice(LAB_PREFIX.length).split('-')[0])));
}

export function deleteLabNamespace(name: string): void {
  sh('ip', ['netns', 'delete', name]);
}
