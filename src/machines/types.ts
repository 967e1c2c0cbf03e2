/** Types the statecharts share. Handles are opaque to machines: effect actors create and read them. */
import type { Codec } from '../media/codec.js';
import type { ControlLease, ControlRules } from './control-lease.js';

export type { Codec };

export interface Viewport {
  width: number;
  height: number;
}

/** How a session's picture is captured and encoded; the session machine does not care which. */
export type CaptureStrategy = 'screencast' | 'tab';

/**
 * What a session does with the page's JavaScript dialogs (alert, confirm, prompt, beforeunload):
 * `surface` shows them to clients until answered (or `dialogTimeoutMs` passes: then dismissed);
 * `accept` and `dismiss` answer at once, for unattended sessions.
 */
export type DialogPolicy = 'surface' | 'accept' | 'dismiss';

export interface SessionParams {
  url: string;
  capture: CaptureStrategy;
  viewport: Viewport;
  fps: number;
  quality: number;
  /** Weight in the pool's capture budget: higher keeps its frames longer under load (0–9). */
  priority: number;
  dialogs: DialogPolicy;
  /** A surfaced dialog nobody answers is dismissed after this long (0 = never). */
  dialogTimeoutMs: number;
  /** Granted to every page of the session; anything else a page asks for is denied. */
  permissions: PagePermission[];
  /** Where the pages are, for the geolocation permission. */
  geolocation?: { latitude: number; longitude: number; accuracy?: number };
  /** Certificate errors are ignored (test environments); otherwise Chromium's warning page is shown. */
  ignoreHttpsErrors: boolean;
  /** What a window the page opens becomes: a tab of the session, loaded in its active tab, or dropped. */
  popups: PopupPolicy;
  /**
   * What the pages are while nobody watches: `hidden` (a background tab: nothing drawn, scripts and
   * timers run), `visible` (drawn as if shown, for pages that stop their work when hidden) or
   * `frozen` (drawn as if shown, then frozen after `supervision.freezeAfterMs`: nothing runs at all).
   */
  unwatched: 'hidden' | 'visible' | 'frozen';
  /** The page's sound goes to viewers (Opus, tab capture only); off: no audio is captured at all. */
  audio: boolean;
  /** The proxy the session's pages go through (its password is kept with the node's credentials). */
  proxy?: { server: string; bypass: string[]; username?: string };
}

/**
 * `tabs`: a popup or `target=_blank` link opens as a tab of the session (it becomes the active one);
 * `same-tab`: it loads in the session's active tab; `block`: it is dropped.
 */
export type PopupPolicy = 'tabs' | 'same-tab' | 'block';

/** What the session tells its tabs actor: close a tab; which tab is active (it answers the others' dialogs). */
export type TabCommand =
  | { type: 'tabs.close'; page: PageHandle }
  | { type: 'tabs.active'; page: PageHandle }
  /** Open a tab on this URL (adopted as a window the session opened: `tab.opened`). */
  | { type: 'tabs.open'; url: string };

export type PagePermission = 'geolocation' | 'notifications' | 'clipboard-read' | 'clipboard-write';

/** A JavaScript dialog the page opened, as its page actor reports it. */
export interface PageDialog {
  type: 'alert' | 'confirm' | 'prompt' | 'beforeunload';
  message: string;
  /** A prompt's default text ('' otherwise). */
  defaultPrompt: string;
  /** The document that opened it. */
  url: string;
}

/** A file a page of the session downloaded (or tried to). */
export interface DownloadRecord {
  /** Chromium's id for it (also the file's name on disk). */
  id: string;
  /** The name the site suggested (what a client saves it as). */
  name: string;
  url: string;
  bytes: number;
  state: 'in-progress' | 'completed' | 'canceled';
  /** Why it was canceled (a quota, the site). */
  reason?: string;
  startedAt: number;
}

/**
 * A recording of the session's stream to a file on its node: the RTP its viewers get, written without a
 * second encode (src/actors/recorder.ts). Kept while the session lives, within the recording limits.
 */
export interface RecordingRecord {
  /** `rec-<n>`, numbered in the session. */
  id: string;
  /** `starting` until the first keyframe is written; `finalizing` while the file gets its index. */
  state: 'starting' | 'recording' | 'finalizing' | 'completed' | 'failed';
  codec: Codec;
  /** Bytes of the file now. */
  bytes: number;
  startedAt: number;
  endedAt?: number;
  /** Why it ended: asked to, a limit, the session's end, or what went wrong. */
  reason?: string;
}

/** What a recorder actor gets: the session's stream, its codec, and how many bytes it may write. */
export interface RecorderInput {
  sessionId: string;
  recordingId: string;
  /** When the session accepted it (the recording's record keeps it). */
  startedAt: number;
  page: PageHandle;
  codec: Codec;
  /** The session streams its sound: the file gets it too (Opus). */
  audio: boolean;
  /** Bytes this recording may reach (the session's allowance less what its kept recordings take). */
  maxBytes: number;
}

/** Finalise the file and report `recording.ended`. */
export type RecorderCommand = { type: 'recorder.stop'; reason: string };

/** Files for the page's open file chooser, as a client sent them. */
export type FileChooserCommand = { type: 'fileChooser.answer'; files: { name: string; data: Uint8Array }[] };

/**
 * A native pop-up widget the page asked for (a `<select>` menu, a date, time or colour picker):
 * Chromium draws it outside the page, so no capture shows it; a controlling viewer draws it instead.
 */
export type PageWidget =
  | {
      id: number;
      kind: 'select';
      /** The options in order (their index is the value chosen). */
      options: { label: string; group?: string; disabled: boolean }[];
      selectedIndex: number;
    }
  | {
      id: number;
      kind: 'input';
      inputType: 'date' | 'time' | 'datetime-local' | 'month' | 'week' | 'color';
      value: string;
      min?: string;
      max?: string;
      step?: string;
    };

/** What the session tells its widgets actor: the viewer's choice (null: closed without one). */
export type WidgetCommand = { type: 'widget.choose'; id: number; value: string | null };

/** What the session tells its dialogs actor. */
export type DialogCommand = { type: 'dialog.answer'; accept: boolean; promptText?: string };

/** A running browser, created by `launchBrowser`. */
export interface BrowserHandle {
  readonly hostId: string;
}

/** A session's page and its media plumbing, created by `openPage`. */
export interface PageHandle {
  readonly sessionId: string;
}

/**
 * What the session tells a viewer actor: the page a restart put in place of the old one; the dialog
 * the page shows now (null: none), for a controlling viewer to answer.
 */
export type ViewerCommand =
  | { type: 'viewer.page'; page: PageHandle }
  | { type: 'viewer.dialog'; dialog: PageDialog | null }
  | { type: 'viewer.tabs'; tabs: TabSummary[] }
  | { type: 'viewer.widget'; widget: PageWidget | null }
  /** Who drives now: a viewer's input reaches the page only while it holds the lease or nobody does. */
  | { type: 'viewer.control'; lease: ControlLease; rules: ControlRules }
  /** The viewer restarted ICE with these credentials (WHEP PATCH): answered with `viewer.iceRestarted`. */
  | { type: 'viewer.iceRestart'; requestId: string; credentials: { ufrag: string; pwd: string } };

/** A tab as clients see it (the session view, a controlling viewer's tab strip). */
export interface TabSummary {
  id: string;
  url: string;
  title: string;
  active: boolean;
  /** A dialog this background tab shows (surfaced once it is active). */
  dialog?: PageDialog['type'];
}

/** A negotiated WHEP viewer, made by its viewer actor (which reports `viewer.join` with it). */
export interface ViewerHandle {
  readonly viewerId: string;
  readonly codec: Codec;
  /** What its token lets it do (absent: control, as an API token's viewer). */
  readonly scope?: 'view' | 'control';
  /** How its link is doing, as its receiver reports say (read on demand, for the session view). */
  link?(): ViewerLink;
}

/** One viewer's link, from its RTCP: receiver reports, NACKs, PLIs. null: not reported yet. */
export interface ViewerLink {
  viewerId: string;
  scope: 'view' | 'control';
  rttMs: number | null;
  /** Share of packets lost in the last receiver-report interval, in percent. */
  lossPercent: number | null;
  packetsLost: number;
  packetsSent: number;
  /** Packets the viewer asked for again (NACK) and castpool sent again. */
  nacks: number;
  retransmits: number;
  /** Keyframe requests (PLI) from this viewer. */
  keyframeRequests: number;
  iceRestarts: number;
  /** The simulcast layer it gets (0: the full picture). */
  layer: number;
  layerSwitches: number;
}

/** What a viewer actor starts with: the page, its offer, and who drives the session now. */
export interface ViewerInput {
  page: PageHandle;
  offer: ViewerOffer;
  /** The session streams its sound: the viewer's audio section is answered and fed. */
  audio: boolean;
  control: { lease: ControlLease; rules: ControlRules };
}

/** A WHEP offer the session was asked to take: its viewer actor negotiates it (opaque beyond this). */
export interface ViewerOffer {
  readonly viewerId: string;
  readonly codec: Codec;
}

/** What a capture actor reports once a second. */
export interface CaptureStats {
  /** Frames that left the encoder in the last window. */
  deliveredFps: number;
  /** Frames the source produced in the last window. */
  capturedFps: number;
  /** Frames offered to the encoder in the last window. */
  offered: number;
  /** Frames skipped in the last window because the encoder was still busy. */
  busyDrops: number;
  /** Frames written but not yet out of the encoder. */
  backlog: number;
  /** Frames dropped since the capture started (replaced in the slot or skipped). */
  droppedTotal: number;
}

export interface ThrottlePolicy {
  /** Stats windows after a capture starts that never count as overload. */
  warmupWindows: number;
  enterAfterWindows: number;
  leaveAfterWindows: number;
  dropRatio: number;
  backlogFrames: number;
  fpsFactor: number;
  minFps: number;
}

/** Commands a capture actor accepts from its session. */
export type CaptureCommand =
  | { type: 'capture.rate'; fps: number }
  /** A keyframe, of a simulcast layer (absent: the full picture). */
  | { type: 'capture.keyframe'; layer?: number };

export interface CaptureInput {
  page: PageHandle;
  params: SessionParams;
  /** The strategy in use (the params' own, or screencast after a fallback). */
  strategy: CaptureStrategy;
  codec: Codec;
  fps: number;
}
