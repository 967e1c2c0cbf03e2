/**
 * What this node's recordings take on disk, by session: recorder actors report their file sizes, and
 * removals (a deleted or expired recording, a session's end) give the bytes back. The node-wide limit
 * (`recordings.maxTotalMb`) is read against it by recorders while they write and by the command layer
 * before one starts.
 */
export class RecordingSpace {
  private readonly bytes = new Map<string, Map<string, number>>();
  private sum = 0;

  constructor(readonly maxTotalBytes: number) {}

  get totalBytes(): number {
    return this.sum;
  }

  get full(): boolean {
    return this.sum >= this.maxTotalBytes;
  }

  set(sessionId: string, recordingId: string, bytes: number): void {
    let session = this.bytes.get(sessionId);
    if (!session) {
      session = new Map();
      this.bytes.set(sessionId, session);
    }
    this.sum += bytes - (session.get(recordingId) ?? 0);
    session.set(recordingId, bytes);
  }

  remove(sessionId: string, recordingId: string): void {
    const session = this.bytes.get(sessionId);
    const bytes = session?.get(recordingId);
    if (bytes === undefined) return;
    this.sum -= bytes;
    session?.delete(recordingId);
  }
}
