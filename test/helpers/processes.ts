import { readdirSync, readFileSync } from 'node:fs';

/** Live (non-zombie) processes whose command line contains `needle`. */
export function processesMatching(needle: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const state = /State:\s+(\w)/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1];
      if (cmd.includes(needle) && state !== 'Z') found.push({ pid: Number(entry), cmd: cmd.slice(0, 160) });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    const state = /State:\s+(\w)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return state !== undefined && state !== 'Z';
  } catch {
    return false;
  }
}

/** What the suite may have started: its Chromiums (profiles under the test root) and castpool's encoders. */
export function suiteProcesses(testRoot: string) {
  return [...processesMatching(testRoot), ...processesMatching('-f mpjpeg -i pipe:0')];
}
