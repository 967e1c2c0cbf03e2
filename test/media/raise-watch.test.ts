import { describe, expect, it } from 'vitest';
import { RaiseWatch } from '../../src/media/raise-watch.js';

/** Feeds one window per second from `start`; the second at which the watch said "start over". */
function feed(watch: RaiseWatch, rates: number[], start = 0): number | undefined {
  for (const [i, fps] of rates.entries()) if (watch.stuck(fps, start + (i + 1) * 1000)) return i + 1;
  return undefined;
}

describe('raise watch (tab capture kept a lowered rate)', () => {
  it('starts the capture over when a raise is not followed for three windows after the grace', () => {
    const watch = new RaiseWatch();
    watch.rateChanged(5, 30, 0);
    expect(feed(watch, [5, 5, 5, 5, 5, 5])).toBe(4); // second 1 is grace; 2, 3, 4 slow
    expect(feed(watch, [5, 5, 5, 5], 6000)).toBeUndefined(); // once per raise
  });

  it('leaves a capture alone that follows the raise, or is lowered, or was raised long ago', () => {
    const followed = new RaiseWatch();
    followed.rateChanged(5, 30, 0);
    expect(feed(followed, [6, 14, 27, 29, 30])).toBeUndefined();
    const lowered = new RaiseWatch();
    lowered.rateChanged(30, 5, 0);
    expect(feed(lowered, [5, 5, 5, 5])).toBeUndefined();
    const old = new RaiseWatch();
    old.rateChanged(5, 30, 0);
    expect(feed(old, [5, 5, 5], 20_000)).toBeUndefined();
  });

  it('needs the slow windows in a row', () => {
    const watch = new RaiseWatch();
    watch.rateChanged(10, 30, 0);
    expect(feed(watch, [10, 10, 10, 25, 10, 10])).toBeUndefined();
    expect(watch.stuck(10, 7000)).toBe(true);
  });
});
