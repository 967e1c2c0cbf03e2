import type { CaptureCommand, CaptureStats } from '../machines/types.js';

/** What a capture strategy does; the session machine only sees the actor around it. */
export interface CapturePipeline {
  start(): Promise<void>;
  handle(command: CaptureCommand): void;
  stop(): Promise<void>;
}

/** What a pipeline reports to its session. */
export type CaptureReport =
  | { type: 'capture.stats'; stats: CaptureStats }
  | { type: 'capture.failed'; reason: string };
