/**
 * A token bucket per controlling viewer: messages per second and inserted text bytes per second, each
 * with a burst of two seconds' worth. Input past it is dropped (never queued): 10,000 messages in two
 * seconds, or megabytes of pasted text, must not reach the page.
 */
export class InputBudget {
  private messages: number;
  private bytes: number;
  private last: number;

  constructor(
    private readonly messagesPerSecond: number,
    private readonly bytesPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.messages = messagesPerSecond * 2;
    this.bytes = bytesPerSecond * 2;
    this.last = now();
  }

  /** True when a message carrying `textBytes` of text may be applied now (and takes its share). */
  take(textBytes = 0): boolean {
    const now = this.now();
    const elapsed = (now - this.last) / 1000;
    this.last = now;
    this.messages = Math.min(this.messagesPerSecond * 2, this.messages + elapsed * this.messagesPerSecond);
    this.bytes = Math.min(this.bytesPerSecond * 2, this.bytes + elapsed * this.bytesPerSecond);
    if (this.messages < 1 || this.bytes < textBytes) return false;
    this.messages -= 1;
    this.bytes -= textBytes;
    return true;
  }
}
