import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { chromiumPath, round } from './util.js';

/** What the numbers were measured on. */
export function machine() {
  const version = (cmd: string, args: string[]) => {
    try {
      return (
        execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
          .split('\n')[0]
          ?.trim() ?? 'unknown'
      );
    } catch {
      return 'unknown';
    }
  };
  return {
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    memoryGiB: round(totalmem() / 2 ** 30, 0),
    os: readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="(.+)"/)?.[1] ?? 'unknown',
    node: process.version,
    chromium: version(chromiumPath(), ['--version']).replace(/^.*?(Chromium)/, '$1'),
    ffmpeg: version('ffmpeg', ['-version']),
  };
}
