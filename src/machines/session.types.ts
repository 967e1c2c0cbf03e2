/**
 * The session machine's context, events and the pure helpers its guards and the command layer share,
 * kept beside the machine (session.machine.ts) so the statechart file holds only states and actions.
 */
import type { ControlHow, ControlLease, ControlParty, ControlRules } from './control-lease.js';
import type {
  BrowserHandle,
  CaptureStats,
  CaptureStrategy,
  Codec,
  DownloadRecord,
  PageDialog,
  PageHandle,
  PageWidget,
  RecordingRecord,
  SessionParams,
  TabSummary,
  ThrottlePolicy,
  ViewerHandle,
  ViewerOffer,
  Viewport,
} from './types.js';

/** OTP-style restart policy: at most `max` restarts in `windowMs`, with exponential backoff. */
export interface RestartPolicy {
  max: number;
  windowMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const defaultRestartPolicy: RestartPolicy = {
  max: 3,
  windowMs: 60_000,
  backoffBaseMs: 250,
  backoffMaxMs: 5000,
};

/** What a session's recordings may keep; the node-wide total is the recorder actors' to watch. */
export interface RecordingLimits {
  maxBytes: number;
  maxCount: number;
  /** A finished recording is removed this long after it ended. */
  retentionMs: number;
  /** The codec a recording asks for when nobody watches yet (viewers then must take it). */
  codec: Codec;
}

export const defaultRecordingLimits: RecordingLimits = {
  maxBytes: 1024 * 1024 * 1024,
  maxCount: 20,
  retentionMs: 24 * 3600_000,
  codec: 'H264',
};

export interface SessionInput {
  sessionId: string;
  params: SessionParams;
  throttle: ThrottlePolicy;
  restart?: RestartPolicy;
  idleTimeoutMs?: number;
  /** An unwatched session whose `unwatched` is `frozen` freezes its pages after this long (default 3 s). */
  freezeAfterMs?: number;
  /** State saved elsewhere (a hibernation on a node that died): the page opens with it. */
  saved?: SavedPage;
  /** Consecutive capture failures tolerated before the session fails. */
  maxCaptureRestarts?: number;
  /** Tabs a session may have open at once (popups past it are closed). */
  maxTabs?: number;
  recordingLimits?: RecordingLimits;
  /** Who drives by default, and when a hold taken by input lapses (default: agent first, 15 s). */
  control?: ControlRules;
  now?: () => number;
}

export interface NavigationResult {
  requestId: string;
  url: string;
  error?: string;
  /** The URL policy refused the navigation (or a redirect of it): why. */
  refused?: string;
}

export interface SessionContext {
  sessionId: string;
  params: SessionParams;
  throttle: ThrottlePolicy;
  url: string;
  createdAt: number;
  browser?: BrowserHandle;
  page?: PageHandle;
  viewers: Record<string, ViewerHandle>;
  /** Offers whose viewer actors are negotiating: they count as viewers (capture starts for them). */
  offers: Record<string, ViewerOffer>;
  /** The codec the running (or last) capture encodes; fixed while anyone watches. */
  codec?: Codec;
  /** The session's own rate: its target, or lower while throttled. */
  currentFps: number;
  /** The pool's capture-budget share for this session; `null` = not limited by the pool. */
  shareFps: number | null;
  stats: CaptureStats;
  droppedBefore: number;
  overloadWindows: number;
  healthyWindows: number;
  /** Stats windows since the current capture started. */
  windowsSinceStart: number;
  /** When the running capture started (a new watched session is measured from here). */
  watchedSince: number;
  /** Best delivered FPS lately, decaying each window: tells a starved moving page from a still one. */
  peakFps: number;
  captureRestarts: number;
  maxCaptureRestarts: number;
  /** The capture in use: the session's own, or screencast after the tab capture kept failing. */
  captureStrategy: CaptureStrategy;
  /** Why the session fell back to screencast (set once it did). */
  captureFallback?: string;
  lastNavigation?: NavigationResult;
  /** The session's recordings, oldest first (kept across restarts, removed by the retention limits). */
  recordings: RecordingRecord[];
  /** Recordings started so far (names them: rec-1, rec-2, …). */
  recordingsStarted: number;
  /** Clients waiting for a running recording to be finalised (answered with `recording.stopped`). */
  recordingStops: { requestId: string; recordingId: string }[];
  /** Asked to close while recording: it closes once its recordings are final (or after a limit). */
  closingAfterRecordings: boolean;
  /** What recordings may keep (bytes per session, recordings per session, retention after they end). */
  recordingLimits: RecordingLimits;
  /** Files the session's pages downloaded, oldest first (kept across restarts). */
  downloads: DownloadRecord[];
  /** A file chooser the page opened, waiting for files (`POST …/file-chooser`). */
  fileChooser?: { id: number; mode: 'selectSingle' | 'selectMultiple'; openedAt: number };
  /** File choosers the page opened so far (numbers them). */
  fileChoosersOpened: number;
  /** The dialog the page shows now, waiting for an answer (policy `surface`). */
  dialog?: OpenDialog;
  /** A native pop-up widget the active tab opened (a menu, a picker), drawn by controlling viewers. */
  widget?: PageWidget;
  /** When the page last stopped being busy (a dialog answered, a navigation done): a probe begun before then waited on it. */
  busyEndedAt: number;
  /** Popups loaded in the session's page so far (numbers their navigations). */
  popupsFollowed: number;
  /** The session's tabs, in the order they opened; the active one's page is `page`. */
  tabs: SessionTab[];
  /** Tabs opened so far (names them: tab-1, tab-2, …; a restart's new first tab gets the next name). */
  tabsOpened: number;
  /** CDP clients driving the session now: it neither freezes nor hibernates for idleness meanwhile. */
  automationClients: number;
  /** Who drives now: one party at a time (control-lease.ts). */
  control: ControlLease;
  controlRules: ControlRules;
  maxTabs: number;
  /** Dialogs the page opened so far: numbers them (a late timeout finds its own dialog gone). */
  dialogsOpened: number;
  /** The navigation a revived failed session loads first (its request id), instead of `initial`. */
  openNavigationId?: string;
  /** The navigation asked for last: an older one finishing later does not set the URL. */
  latestNavigationId: string;
  failure?: string;
  restart: RestartPolicy;
  /** When recent restarts began (for the budget). */
  restartTimes: number[];
  restartsTotal: number;
  now: () => number;
  /** No viewers for this long hibernates the session (0 = never). */
  idleTimeoutMs: number;
  /** Unwatched this long, a session whose `unwatched` is `frozen` freezes its pages. */
  freezeAfterMs: number;
  /** When a viewer last joined or left (memory pressure hibernates the least recently viewed first). */
  lastViewedAt: number;
  /** What a hibernated session needs to come back (opaque to the machine). */
  saved?: SavedPage;
  hibernation?: { at: number; reason: string };
}

/** A tab of the session: its page (the active one's is the session's `page`) and what it shows. */
export interface SessionTab {
  id: string;
  page: PageHandle;
  url: string;
  title: string;
  /** A dialog this tab shows while it is not the active one (surfaced when it becomes active). */
  dialog?: PageDialog['type'];
}

/** A dialog waiting for its answer: what the page said, when, and its number in this session. */
export interface OpenDialog extends PageDialog {
  id: number;
  openedAt: number;
}

/** Who answered a dialog. */
export type DialogAnsweredBy = 'client' | 'policy' | 'timeout' | 'navigation' | 'page';

/** What `openPage` gets: `previous` is the page a restart replaces, `restore` a hibernated page's state. */
export interface OpenPageInput {
  browser: BrowserHandle;
  sessionId: string;
  params: SessionParams;
  previous?: PageHandle;
  restore?: SavedPage;
}

/** A hibernated page's state, produced by `hibernatePage` and consumed by `openPage`. */
export interface SavedPage {
  readonly url: string;
}

export type SessionEvent =
  | { type: 'host.ready'; browser: BrowserHandle }
  | { type: 'host.failed'; reason: string }
  | { type: 'host.crashed'; reason: string }
  | { type: 'page.crashed'; reason: string }
  /** The renderer did not answer the liveness probe in time (hung, or busy with a dialog or a load). */
  | { type: 'page.unresponsive'; reason: string; loading?: boolean; probeStartedAt?: number }
  | { type: 'download.begun'; download: DownloadRecord }
  | { type: 'download.progress'; id: string; bytes: number; state: DownloadRecord['state']; reason?: string }
  | { type: 'fileChooser.opened'; mode: 'selectSingle' | 'selectMultiple' }
  /** A client's files for the open file chooser. */
  | { type: 'fileChooser.answer'; files: { name: string; data: Uint8Array }[] }
  /** The files reached the page (or why not). */
  | { type: 'fileChooser.done'; error?: string }
  /** The page opened a window (closed at once); under `same-tab` the session loads its URL. */
  | { type: 'popup.opened'; url: string }
  /** Under `tabs`: the page opened a window, ready as a tab (the session adopts it, or closes it past its limit). */
  | { type: 'tab.opened'; page: PageHandle; url: string; title: string }
  /** Under `tabs`: a window past the session's tab limit, closed before it became a tab. */
  | { type: 'tab.refused'; url: string }
  /** A tab moved on (a navigation, a new title) or opened or closed a dialog while in the background. */
  | { type: 'tab.updated'; page: PageHandle; url: string; title: string; dialog?: PageDialog['type'] }
  /** A tab closed itself (`window.close()`) or its renderer crashed. */
  | { type: 'tab.gone'; page: PageHandle; reason: string }
  /** A client makes a tab the active one (the live view follows). */
  | { type: 'tab.activate'; tabId: string }
  /** A client closes a tab (not the session's last). */
  | { type: 'tab.close'; tabId: string }
  /** A client (CDP `Target.createTarget`) opens a tab on this URL; it becomes the active tab. */
  | { type: 'tab.open'; url: string }
  /** A CDP client connected to the session, or left. */
  | { type: 'automation.attached' }
  | { type: 'automation.detached' }
  /** A party takes the lease: asked for it (`take`), or drove while nobody held it (`input`). */
  | { type: 'control.take'; party: ControlParty; how: Extract<ControlHow, 'take' | 'input'>; force?: boolean }
  /** The holder lets go (`force`: an operator frees it, whoever holds it). */
  | { type: 'control.release'; party: ControlParty | null; force?: boolean }
  /** A party asks the holder to let it drive. */
  | { type: 'control.request'; party: ControlParty }
  /** The holder drove again (actors say so at most once a second): an `input` hold does not lapse. */
  | { type: 'control.active'; party: ControlParty }
  /** Raised by the session: an `input` hold may have lapsed. */
  | { type: 'control.lapse' }
  | { type: 'dialog.opened'; dialog: PageDialog }
  | { type: 'dialog.closed'; accepted: boolean }
  /** The active tab opened a native pop-up widget (intercepted: a controlling viewer draws it). */
  | { type: 'widget.opened'; widget: PageWidget }
  /** The widget went (its page navigated). */
  | { type: 'widget.closed' }
  /** A controlling viewer's choice in the widget (null: closed without one). */
  | { type: 'widget.answer'; id: number; value: string | null }
  /** A client's answer to the open dialog. */
  | { type: 'dialog.answer'; accept: boolean; promptText?: string }
  /** A surfaced dialog's time is up (raised by the session itself). */
  | { type: 'dialog.expired'; id: number }
  | { type: 'viewer.offer'; offer: ViewerOffer }
  | { type: 'viewer.join'; viewer: ViewerHandle }
  /** A viewer actor could not answer its offer. */
  | { type: 'viewer.unanswered'; viewerId: string; reason: string }
  | { type: 'viewer.left'; viewerId: string }
  /** A viewer's ICE restart (WHEP PATCH with new credentials), for its viewer actor. */
  | {
      type: 'viewer.iceRestart';
      viewerId: string;
      requestId: string;
      credentials: { ufrag: string; pwd: string };
    }
  /** How a viewer actor's ICE restart went: castpool's answer fragment and the new ETag, or why not. */
  | { type: 'viewer.iceRestarted'; requestId: string; fragment?: string; etag?: string; error?: string }
  /** A keyframe wanted, of a simulcast layer (0 or absent: the full picture). */
  | { type: 'keyframe.request'; layer?: number }
  /** A client starts a recording of the stream (answered with `recording.accepted` or `.refused`). */
  | { type: 'recording.start'; requestId: string }
  /** A client stops a running recording (it is finalised), or removes a finished one. */
  | { type: 'recording.stop'; requestId: string; recordingId: string }
  /** The recorder wrote its first keyframe. */
  | { type: 'recording.begun'; recordingId: string }
  /** The recorder's file size now (about once a second). */
  | { type: 'recording.progress'; recordingId: string; bytes: number }
  /** The recorder finished its file (or failed: `error`); `reason` says why it stopped. */
  | { type: 'recording.ended'; recordingId: string; bytes: number; reason: string; error?: string }
  /** Raised by the session: a finished recording's retention is over. */
  | { type: 'recording.expired'; recordingId: string }
  | { type: 'thumbnail.request'; requestId: string; width: number }
  /** Asks for the session's cookies and storage (a saved context); answered with `state.read`. */
  | { type: 'state.request'; requestId: string }
  | { type: 'state.done'; requestId: string; state?: SavedPage; error?: string }
  | { type: 'thumbnail.done'; requestId: string; jpeg?: Uint8Array; error?: string }
  | { type: 'viewport.changed'; viewport: Viewport }
  | { type: 'capture.stats'; stats: CaptureStats }
  | { type: 'capture.failed'; reason: string }
  | { type: 'budget.share'; fps: number | null }
  | { type: 'navigate'; requestId: string; url: string }
  | { type: 'navigate.done'; result: NavigationResult }
  | { type: 'close' }
  | { type: 'hibernate'; reason: string }
  | { type: 'resume' }
  | { type: `xstate.error.actor.${string}`; error: unknown };

/**
 * What the session tells whoever listens (`ref.on(type, ...)`): how an offer ended. `retryable`: the
 * session's state or codec changed meanwhile (the same offer may succeed again); otherwise the offer
 * itself could not be answered.
 */
export type SessionEmitted =
  | { type: 'viewer.joined'; viewer: ViewerHandle }
  | { type: 'viewer.refused'; viewerId: string; reason: string; retryable: boolean }
  /** An ICE restart asked for with `viewer.iceRestart`: the answer fragment, or why there is none. */
  | { type: 'viewer.iceRestarted'; requestId: string; fragment?: string; etag?: string; error?: string }
  /** The state asked for with `state.request`: cookies and storage, or why there are none. */
  | { type: 'state.read'; requestId: string; state?: SavedPage; error?: string }
  /** A recording asked for with `recording.start` runs (its record), or why it cannot. */
  | { type: 'recording.accepted'; requestId: string; recording: RecordingRecord }
  | {
      type: 'recording.refused';
      requestId: string;
      reason: string;
      /** `conflict`: the session's state; `storage`: its recording limits. */
      kind: 'conflict' | 'storage' | 'not_found';
    }
  /** A recording asked to stop has ended (finalised), or a finished one was removed. */
  | { type: 'recording.stopped'; requestId: string; recording: RecordingRecord; removed: boolean }
  /** A thumbnail asked for with `thumbnail.request`: its JPEG, or why there is none. */
  | { type: 'thumbnail.taken'; requestId: string; jpeg?: Uint8Array; error?: string }
  /** The page opened a dialog that waits for a client (policy `surface`). */
  | { type: 'dialog.opened'; dialog: OpenDialog }
  /** Files given to a file chooser (`error`: they could not be). */
  | { type: 'fileChooser.closed'; id: number; error?: string }
  /** A dialog was answered (or went with its page). */
  | { type: 'dialog.closed'; dialog: OpenDialog; accepted: boolean; by: DialogAnsweredBy }
  /** A tab opened, became active, or closed (`refused`: a window past the session's tab limit). */
  | {
      type: 'tab.changed';
      change: 'opened' | 'activated' | 'closed' | 'refused';
      tabId: string;
      url: string;
    };

/**
 * A failure as a user reads it: one sentence, not an error's stack (a page's exception or a protocol
 * error can span many lines).
 */
export function failureSentence(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const first =
    text
      .split('\n', 1)[0]
      ?.trim()
      .replace(/^(\w*Error|Uncaught):\s*/, '') ?? '';
  if (!first) return 'unknown failure';
  return first.length > 240 ? `${first.slice(0, 237)}...` : first;
}

/** A capture window is overloaded when the encoder skipped too many offered frames or lags behind. */
export function isOverloaded(stats: CaptureStats, policy: ThrottlePolicy): boolean {
  const skippedShare = stats.offered > 0 ? stats.busyDrops / stats.offered : 0;
  return skippedShare > policy.dropRatio || stats.backlog > policy.backlogFrames;
}

export function throttledFps(params: SessionParams, policy: ThrottlePolicy): number {
  return Math.max(policy.minFps, Math.min(params.fps, Math.round(params.fps * policy.fpsFactor)));
}

/** The rate the capture runs at: the session's own rate within the pool's share. */
export function captureFps(context: Pick<SessionContext, 'currentFps' | 'shareFps'>): number {
  return context.shareFps === null ? context.currentFps : Math.min(context.currentFps, context.shareFps);
}

/**
 * What a session's states say about it (`snapshot.hasTag(...)`): `live` (a page is open and
 * answers commands), `watched` (capturing for viewers), `asleep` (hibernating, hibernated or
 * resuming: a viewer wakes it), `released` (holds no browser: hibernated or failed), `failed`,
 * `throttled` (watched at a reduced rate), `frozen` (live and unwatched, its pages frozen: no script,
 * timer or frame runs until something needs them).
 */
export type SessionTag = 'live' | 'watched' | 'throttled' | 'frozen' | 'asleep' | 'released' | 'failed';

/** A navigation asked of the session has not reported yet (the first load counts). */
export function navigationPending(
  context: Pick<SessionContext, 'latestNavigationId' | 'lastNavigation'>,
): boolean {
  return context.lastNavigation?.requestId !== context.latestNavigationId;
}

/** The session's tabs as clients see them, in the order they opened. */
export function tabList(context: Pick<SessionContext, 'tabs' | 'page'>): TabSummary[] {
  return context.tabs.map(({ id, url, title, dialog, page }) => ({
    id,
    url,
    title,
    active: page === context.page,
    ...(dialog ? { dialog } : {}),
  }));
}

/** A recording still writing (it watches the stream like a viewer). */
export function isRecording(recording: RecordingRecord): boolean {
  return (
    recording.state === 'starting' || recording.state === 'recording' || recording.state === 'finalizing'
  );
}

/** Viewers joined and negotiating, and running recordings: while there are any, the session captures. */
export function watcherCount(context: Pick<SessionContext, 'viewers' | 'offers' | 'recordings'>): number {
  return (
    Object.keys(context.viewers).length +
    Object.keys(context.offers).length +
    context.recordings.filter(isRecording).length
  );
}
