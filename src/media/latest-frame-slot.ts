/**
 * Holds at most one frame: a newer frame replaces an older one that nobody took yet.
 * The replaced count is the capture-side drop counter (the latest frame always wins).
 */
export class LatestFrameSlot<T> {
  private frame: T | undefined;
  replaced = 0;

  put(frame: T): void {
    if (this.frame !== undefined) this.replaced++;
    this.frame = frame;
  }

  take(): T | undefined {
    const frame = this.frame;
    this.frame = undefined;
    return frame;
  }

  get hasFrame(): boolean {
    return this.frame !== undefined;
  }
}
