import type { TokenScope } from '../access/index.js';
import type { ContextSummary } from '../contexts/saved-context.js';
import type { ControlView } from '../machines/control-lease.js';
import type { CaptureStrategy, DialogPolicy, PageDialog, TabSummary, ViewerLink } from '../machines/types.js';
import type { IceServer } from '../media/ice-servers.js';

/** What every operation that names a session answers: the session as clients see it. */
export interface SessionView {
  id: string;
  /** The node that runs it. */
  node: string;
  state: string;
  url: string;
  viewport: { width: number; height: number };
  capture: CaptureStrategy;
  /** Why the session streams by screencast although it asked for tab capture. */
  captureFallback?: string;
  /** The page's sound streams to viewers (while the capture is `tab`). */
  audio: boolean;
  failure?: string;
  lastNavigation?: { url: string; error?: string };
  dialog?: {
    type: PageDialog['type'];
    message: string;
    defaultPrompt: string;
    url: string;
    openedAt: string;
  };
  dialogs: DialogPolicy;
  /** Who drives now (the control lease). */
  control: ControlView;
  tabs: TabSummary[];
  fileChooser?: { mode: 'selectSingle' | 'selectMultiple'; openedAt: string };
  targetFps: number;
  currentFps: number;
  priority: number;
  shareFps: number | null;
  deliveredFps: number;
  droppedFrames: number;
  viewers: number;
  /** Each connected viewer's link: RTT, loss, retransmissions, keyframe requests. */
  viewerLinks: ViewerLink[];
  /** Encoders running for this session (one while watched, whatever the number of viewers). */
  encoders: number;
  /** Restarts after crashes since creation (the budget is per window, see config `supervision`). */
  restarts: number;
  hibernation?: { at: string; reason: string };
  codec: string | null;
  createdAt: string;
}

/** `GET /api/sessions/:id/snapshot`: the actor's persisted snapshot, sanitised, with what it is. */
export interface SessionSnapshot {
  version: 1;
  machine: string;
  xstate: string;
  sessionId: string;
  node: string;
  state: string;
  takenAt: string;
  snapshot: unknown;
}

export interface SessionList {
  sessions: SessionView[];
}

/** A saved context as the API shows it (values only when revealed). */
export type { ContextSummary } from '../contexts/saved-context.js';
export interface ContextDetail extends ContextSummary {
  scope: 'fleet' | 'local';
  versions: ContextSummary[];
  state?: { origin: string; cookies: object[]; localStorage: Record<string, string> };
}
export interface ContextList {
  contexts: ContextSummary[];
}

export interface Deleted {
  deleted: string;
}

/** A WHEP answer: the SDP and the viewer resource it creates. */
export interface ViewerAnswer {
  viewerId: string;
  answer: string;
  etag: string;
  /** STUN/TURN servers for this viewer (WHEP `Link: <…>; rel="ice-server"`), TURN credentials its own. */
  iceServers: IceServer[];
}

/** A WHEP PATCH's result: the viewer resource's (unchanged) ETag. */
export interface ViewerPatched {
  etag: string;
  /** An ICE restart's answer (trickle-ice-sdpfrag): castpool's new credentials and candidates. */
  fragment?: string;
}

export interface MintedViewerToken {
  token: string;
  sessionId: string;
  scope: TokenScope;
  expiresAt: string;
}
