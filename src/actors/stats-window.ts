/**
 * A capture's stats window: counts over it become per-second rates over its real length (under load
 * the stats timer runs late, and a 1.7 s window must not read as 51 FPS).
 */
export class StatsWindow {
  private startedAt = performance.now();

  restart(): void {
    this.startedAt = performance.now();
  }

  /** Ends this window and starts the next; the returned function turns its counts into rates. */
  close(): (count: number) => number {
    const now = performance.now();
    const ms = Math.max(1, now - this.startedAt);
    this.startedAt = now;
    return (count) => Math.round((count * 1000) / ms);
  }
}
