import { type AnyActorRef, fromCallback, fromPromise } from 'xstate';
import type {
  BrowserHandle,
  CaptureCommand,
  CaptureInput,
  PageHandle,
  SessionParams,
  ThrottlePolicy,
  ViewerCommand,
  ViewerInput,
} from '../../src/machines/types.js';

export const policy: ThrottlePolicy = {
  warmupWindows: 0,
  enterAfterWindows: 2,
  leaveAfterWindows: 3,
  dropRatio: 0.25,
  backlogFrames: 6,
  fpsFactor: 0.5,
  minFps: 5,
};

export const params: SessionParams = {
  url: 'http://127.0.0.1/',
  viewport: { width: 640, height: 360 },
  fps: 30,
  quality: 80,
  capture: 'screencast',
  priority: 5,
  dialogs: 'surface',
  dialogTimeoutMs: 60_000,
  permissions: [],
  ignoreHttpsErrors: false,
  popups: 'same-tab',
  unwatched: 'hidden',
  audio: false,
};

/** A fake capture that records what it was told and lets the test report as it. */
export function fakeCapture() {
  const log: { started: CaptureInput[]; commands: CaptureCommand[]; stopped: number } = {
    started: [],
    commands: [],
    stopped: 0,
  };
  let sendBack: ((event: { type: string } & Record<string, unknown>) => void) | undefined;
  const logic = fromCallback<CaptureCommand, CaptureInput>(({ input, receive, sendBack: back }) => {
    log.started.push(input);
    sendBack = back as typeof sendBack;
    receive((command) => log.commands.push(command));
    return () => {
      log.stopped++;
    };
  });
  return { logic, log, report: (event: { type: string } & Record<string, unknown>) => sendBack?.(event) };
}

/** A viewer actor whose negotiation succeeds at once: it reports its offer back as joined. */
export const fakeViewer = fromCallback<ViewerCommand, ViewerInput>(({ input, sendBack }) => {
  sendBack({ type: 'viewer.join', viewer: input.offer });
  return () => {};
});
export const fakePage = fromPromise<
  PageHandle,
  { browser: BrowserHandle; sessionId: string; params: SessionParams }
>(async ({ input }) => ({ sessionId: input.sessionId }));
export const noop = fromPromise(async () => {});

export const stats = (over: boolean) => ({
  deliveredFps: over ? 10 : 30,
  capturedFps: 60,
  offered: 30,
  busyDrops: over ? 20 : 0,
  backlog: 0,
  droppedTotal: over ? 20 : 0,
});

/** A WHEP offer reaching the session (its viewer actor negotiates it). */
export const viewer = (viewerId: string, codec: 'H264' | 'VP8' = 'H264') => ({
  type: 'viewer.offer' as const,
  offer: { viewerId, codec },
});

export const host = { hostId: 'host-1' };
export type Ref = AnyActorRef;
