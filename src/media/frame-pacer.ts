/** Share of the frame interval by which a frame may go early (screencast runs at 60 Hz, jittered). */
const PACE_TOLERANCE = 0.25;

/**
 * Holds a frame source to a rate on a fixed grid: a frame may be written when its slot on the grid
 * is due (or up to a quarter interval early, so a frame landing just before its slot is not held a
 * whole interval); each write moves the grid one interval on, so early writes do not raise the rate,
 * and after a pause the grid restarts from now (no burst to catch up). Pure: time comes in.
 */
export class FramePacer {
  private intervalMs: number;
  /** When the next frame is due. */
  private nextDueAt = -Infinity;

  constructor(fps: number) {
    this.intervalMs = 1000 / fps;
  }

  setFps(fps: number): void {
    this.intervalMs = 1000 / fps;
  }

  /** Forget the grid: the next frame goes at once (a new encoder). */
  reset(): void {
    this.nextDueAt = -Infinity;
  }

  /** How long a frame ready at `now` must wait (0: write it now). */
  waitMs(now: number): number {
    const earliest = this.nextDueAt - this.intervalMs * PACE_TOLERANCE;
    return now < earliest ? this.nextDueAt - now : 0;
  }

  /** A frame was written at `now`: the grid moves one interval on. */
  wrote(now: number): void {
    this.nextDueAt = Math.max(this.nextDueAt, now - this.intervalMs * PACE_TOLERANCE) + this.intervalMs;
  }
}
