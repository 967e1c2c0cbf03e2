/** How long after a raised rate the capture is watched, and how long it gets to follow first. */
const WATCH_MS = 15_000;
const GRACE_MS = 1500;
/** Windows in a row at the old rate before the capture is started over. */
const SLOW_WINDOWS = 3;

/**
 * After a raised rate (a throttle or budget share lifted), Chromium's tab capture sometimes stays at
 * the lowered one although its sender allows more (seen 2 runs in 5 with a share of 5 lifted to 30).
 * This says when to start the capture over: three stats windows in a row after a short grace still
 * bring no more than the old rate, once per raise. (A page that stopped changing also sends little:
 * it costs one restart.) Pure: time and rates come in.
 */
export class RaiseWatch {
  private raised: { from: number; at: number; slowWindows: number } | undefined;

  /** The rate changed from `from` to `to` at `now`. */
  rateChanged(from: number, to: number, now: number): void {
    this.raised = to > from ? { from, at: now, slowWindows: 0 } : undefined;
  }

  /** One stats window's captured rate; true when the capture should start over (then forgets the raise). */
  stuck(capturedFps: number, now: number): boolean {
    const raised = this.raised;
    if (!raised) return false;
    const since = now - raised.at;
    if (since > WATCH_MS) {
      this.raised = undefined;
      return false;
    }
    if (since <= GRACE_MS || capturedFps > raised.from * 1.2 + 1) {
      raised.slowWindows = 0;
      return false;
    }
    if (++raised.slowWindows < SLOW_WINDOWS) return false;
    this.raised = undefined;
    return true;
  }
}
