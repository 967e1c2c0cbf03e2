/**
 * Time for the machines: XState's `clock` option runs their delayed transitions (idle timeouts,
 * restart backoff), and `now` is what their guards and actions read (restart and degrade windows).
 * Production gets the real one; tests pass XState's `SimulatedClock`, which is both, and move time
 * with `increment(ms)` instead of waiting for it.
 */
export interface MachineClock {
  setTimeout(fn: (...args: unknown[]) => void, timeout: number): unknown;
  clearTimeout(id: unknown): void;
  now(): number;
}

export const realClock: MachineClock = {
  setTimeout: (fn, timeout) => setTimeout(fn, timeout),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
  now: () => Date.now(),
};
