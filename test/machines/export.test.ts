import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('machines:export', () => {
  it('the committed diagrams (docs/machines.md, .json) are those of the machines in src', () => {
    const run = () =>
      execFileSync('npx', ['tsx', 'scripts/export-machines.ts', '--check'], {
        encoding: 'utf8',
        stdio: 'pipe',
      });
    expect(run).not.toThrow();
  });
});
