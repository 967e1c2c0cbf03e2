/*
 * One statechart, kept whole (over 300 lines on purpose): its states name guards, actions and actors
 * that XState's setup() types together, and docs/machines.md draws it as one picture. Its types and
 * pure helpers live in session.types.ts.
 */
import {
  type ActorRefFrom,
  and,
  assign,
  emit,
  enqueueActions,
  fromCallback,
  fromPromise,
  raise,
  sendParent,
  sendTo,
  setup,
} from 'xstate';
import { type ControlLease, freeLease, granted, letGo, sameParty, takeRefusal } from './control-lease.js';
import { patchRecording, recordingAllowance, recordingCodec, recordingRefusal } from './recordings.js';
import {
  captureFps,
  defaultRecordingLimits,
  defaultRestartPolicy,
  failureSentence,
  isOverloaded,
  isRecording,
  navigationPending,
  type OpenDialog,
  type OpenPageInput,
  type SavedPage,
  type SessionContext,
  type SessionEmitted,
  type SessionEvent,
  type SessionInput,
  type SessionTab,
  type SessionTag,
  tabList,
  throttledFps,
  watcherCount,
} from './session.types.js';
import type {
  BrowserHandle,
  CaptureCommand,
  CaptureInput,
  CaptureStats,
  DialogCommand,
  DownloadRecord,
  FileChooserCommand,
  PageDialog,
  PageHandle,
  PageWidget,
  RecorderCommand,
  RecorderInput,
  TabCommand,
  ViewerCommand,
  ViewerInput,
  WidgetCommand,
} from './types.js';

export * from './session.types.js';

/** A moving page's peak fades within seconds of it stopping (windows are the capture's stats periods). */
const PEAK_DECAY_PER_WINDOW = 0.97;

const emptyStats: CaptureStats = {
  deliveredFps: 0,
  capturedFps: 0,
  offered: 0,
  busyDrops: 0,
  backlog: 0,
  droppedTotal: 0,
};

const notProvided = (name: string) => () => {
  throw new Error(`session actor "${name}" was not provided`);
};

/**
 * A crash or failed launch: restart while the budget allows (OTP-style, see `RestartPolicy`), else
 * fail. One definition for every state a session can crash in; `reenter` lets `restarting` count
 * a failure of its own host request as a new restart.
 */
const restartOrFail = [
  { guard: 'withinRestartBudget', target: '#session.restarting', reenter: true, actions: 'recordFailure' },
  { target: '#session.failed', actions: 'recordFailure' },
] as const;

/** One encode serves every viewer: a new one must take the codec the others (if any) take. */
function codecFits(context: SessionContext, viewerId: string, codec: ViewerInput['offer']['codec']): boolean {
  const others = watcherCount(context) - (Object.hasOwn(context.offers, viewerId) ? 1 : 0);
  return others === 0 || context.codec === codec;
}

/** A dialog the page just opened, numbered in this session and stamped with the session's clock. */
function numbered(context: SessionContext, dialog: PageDialog): OpenDialog {
  return { ...dialog, id: context.dialogsOpened + 1, openedAt: context.now() };
}

/** Every viewer (a controlling one shows it) learns the dialog the page shows now, or that none is. */
function tellViewersDialog(
  context: SessionContext,
  dialog: PageDialog | null,
  enqueue: { sendTo(id: string, event: ViewerCommand): void },
): void {
  for (const id of Object.keys(context.viewers))
    enqueue.sendTo(`viewer:${id}`, { type: 'viewer.dialog', dialog });
}

/** The session's widget now (or none): every viewer learns it (a controlling one draws it). */
function setWidget(
  context: SessionContext,
  widget: PageWidget | undefined,
  enqueue: { assign(update: Partial<SessionContext>): void; sendTo(id: string, event: ViewerCommand): void },
): void {
  enqueue.assign({ widget });
  for (const id of Object.keys(context.viewers))
    enqueue.sendTo(`viewer:${id}`, { type: 'viewer.widget', widget: widget ?? null });
}

/** Every viewer learns the session's tabs (a controlling one can switch and close them). */
type LeaseEnqueue = {
  assign(update: Partial<SessionContext>): void;
  sendTo(id: string, event: ViewerCommand): void;
  cancel(id: string): void;
  raise(event: SessionEvent, options: { id: string; delay: number }): void;
};

/** The lease changes hands: viewers learn it (their control bar, their input gate); an `input` hold is timed. */
function setLease(context: SessionContext, lease: ControlLease, enqueue: LeaseEnqueue): void {
  enqueue.assign({ control: lease });
  // Viewers still negotiating learn it too (they started with the lease of their offer).
  for (const id of [...Object.keys(context.viewers), ...Object.keys(context.offers)])
    enqueue.sendTo(`viewer:${id}`, { type: 'viewer.control', lease, rules: context.controlRules });
  enqueue.cancel(CONTROL_LAPSE);
  if (lease.how === 'input') {
    const left = context.controlRules.idleReleaseMs - (context.now() - lease.activeAt);
    enqueue.raise({ type: 'control.lapse' }, { id: CONTROL_LAPSE, delay: Math.max(0, left) });
  }
}

/** A viewer left, or the last CDP client: what it held or asked for goes with it. */
function partyLeft(
  context: SessionContext,
  left: (party: NonNullable<ControlLease['holder']>) => boolean,
  agentAttached: boolean,
  enqueue: LeaseEnqueue,
): void {
  const { control } = context;
  if (control.holder && left(control.holder))
    setLease(context, letGo(context.controlRules, agentAttached, context.now()), enqueue);
  else if (control.requested && left(control.requested.by))
    setLease(context, { ...control, requested: null }, enqueue);
}

const CONTROL_LAPSE = 'control.lapse';

function tellViewersTabs(
  context: Pick<SessionContext, 'viewers' | 'tabs' | 'page'>,
  enqueue: { sendTo(id: string, event: ViewerCommand): void },
): void {
  const tabs = tabList(context);
  for (const id of Object.keys(context.viewers))
    enqueue.sendTo(`viewer:${id}`, { type: 'viewer.tabs', tabs });
}

/**
 * Makes `next` the active tab (the transition re-enters `live.tab`: the capture, the liveness probe and
 * the dialog and file-chooser actors start again on its page; viewers stay and their input follows).
 * The tab left behind keeps the dialog it shows (`dropPrompts` marks it), surfaced when it is active again.
 */
function activate(
  context: SessionContext,
  next: SessionTab,
  tabs: SessionTab[],
  enqueue: {
    assign(update: Partial<SessionContext>): void;
    sendTo(id: string, event: ViewerCommand | TabCommand): void;
  },
): void {
  const url = /^https?:/.test(next.url) ? next.url : context.url;
  enqueue.assign({ page: next.page, tabs, url });
  enqueue.sendTo('tabs', { type: 'tabs.active', page: next.page });
  for (const id of Object.keys(context.viewers)) {
    enqueue.sendTo(`viewer:${id}`, { type: 'viewer.page', page: next.page });
    enqueue.sendTo(`viewer:${id}`, { type: 'viewer.tabs', tabs: tabList({ tabs, page: next.page }) });
  }
}

/** Stops a negotiating viewer (its actor closes its peer) and forgets its offer. */
function dropOffer(
  context: SessionContext,
  viewerId: string,
  enqueue: { stopChild(id: string): void; assign(update: Partial<SessionContext>): void },
): void {
  enqueue.stopChild(`viewer:${viewerId}`);
  const { [viewerId]: _dropped, ...offers } = context.offers;
  enqueue.assign({ offers });
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    tags: {} as SessionTag,
    input: {} as SessionInput,
    events: {} as SessionEvent,
    emitted: {} as SessionEmitted,
  },
  actors: {
    openPage: fromPromise<PageHandle, OpenPageInput>(notProvided('openPage')),
    watchPage: fromCallback<{ type: 'noop' }, { page: PageHandle }>(notProvided('watchPage')),
    /** Downloads land in the session's directory under its quota; reports each (`download.*`). */
    downloads: fromCallback<{ type: 'noop' }, { page: PageHandle; downloads: DownloadRecord[] }>(
      notProvided('downloads'),
    ),
    /**
     * The session's tabs and the windows its pages open: under `tabs` a window becomes a tab
     * (`tab.opened`), otherwise it is closed (its URL reported as `popup.opened` under `same-tab`);
     * reports what each tab shows (`tab.updated`, `tab.gone`) and closes the tabs it is told to.
     */
    tabs: fromCallback<TabCommand, { page: PageHandle; params: SessionContext['params']; maxTabs: number }>(
      notProvided('tabs'),
    ),
    /** Intercepts the page's file choosers (`fileChooser.opened`) and gives them the files it is sent. */
    fileChooser: fromCallback<FileChooserCommand, { page: PageHandle }>(notProvided('fileChooser')),
    /** The session's own files (its downloads): removed when the session ends. */
    sessionFiles: fromCallback<{ type: 'noop' }, { sessionId: string }>(notProvided('sessionFiles')),
    /** Intercepts the active tab's native pop-up widgets (`widget.opened`) and applies the choice it is sent. */
    widgets: fromCallback<WidgetCommand, { page: PageHandle }>(notProvided('widgets')),
    /** Reports the page's JavaScript dialogs (`dialog.opened`/`closed`) and answers them when told. */
    dialogs: fromCallback<DialogCommand, { page: PageHandle }>(notProvided('dialogs')),
    /** Saves what the page needs to come back, then releases it. */
    hibernatePage: fromPromise<SavedPage, { page: PageHandle }>(notProvided('hibernatePage')),
    closePage: fromPromise<void, { page: PageHandle | undefined }>(notProvided('closePage')),
    /** Navigates, then reports `navigate.done` (a spawned child's output would not reach the session). */
    navigatePage: fromCallback<{ type: 'noop' }, { page: PageHandle; requestId: string; url: string }>(
      notProvided('navigatePage'),
    ),
    capture: fromCallback<CaptureCommand, CaptureInput>(notProvided('capture')),
    /** Freezes the session's pages (no script, timer or frame runs) until it is stopped: then thaws them. */
    freezePages: fromCallback<{ type: 'noop' }, { page: PageHandle }>(notProvided('freezePages')),
    /** Reads the live session's cookies and storage, then reports `state.done`. */
    pageState: fromCallback<{ type: 'noop' }, { page: PageHandle; requestId: string }>(
      notProvided('pageState'),
    ),
    /** Takes one small JPEG of the page, then reports `thumbnail.done`. */
    thumbnail: fromCallback<{ type: 'noop' }, { page: PageHandle; requestId: string; width: number }>(
      notProvided('thumbnail'),
    ),
    /** Negotiates its offer, reports `viewer.join` (or `viewer.unanswered`), then serves the viewer. */
    viewer: fromCallback<ViewerCommand, ViewerInput>(notProvided('viewer')),
    /** Writes the stream to a file (`recording.begun`, `.progress`); finalises it when told (`recording.ended`). */
    recorder: fromCallback<RecorderCommand, RecorderInput>(notProvided('recorder')),
    /** Removes a finished recording's file. */
    removeRecording: fromPromise<void, { sessionId: string; recordingId: string }>(
      notProvided('removeRecording'),
    ),
  },
  guards: {
    hasViewers: ({ context }) => watcherCount(context) > 0,
    /** Closing a live session that records: its stream must flow until ffmpeg has finished the files. */
    recordsWhenClosing: ({ context }) =>
      !context.closingAfterRecordings && context.recordings.some(isRecording),
    hibernatesWhenIdle: ({ context }) => context.idleTimeoutMs > 0 && context.automationClients === 0,
    freezesWhenUnwatched: ({ context }) =>
      context.params.unwatched === 'frozen' && context.automationClients === 0,
    hasNoViewers: ({ context }) => watcherCount(context) === 0,
    hasPage: ({ context }) => context.page !== undefined,
    overloadPersists: ({ context, event }) =>
      event.type === 'capture.stats' &&
      context.windowsSinceStart >= context.throttle.warmupWindows &&
      isOverloaded(event.stats, context.throttle) &&
      context.overloadWindows + 1 >= context.throttle.enterAfterWindows,
    recoveryPersists: ({ context, event }) =>
      event.type === 'capture.stats' &&
      !isOverloaded(event.stats, context.throttle) &&
      context.healthyWindows + 1 >= context.throttle.leaveAfterWindows,
    mayRestartCapture: ({ context }) => context.captureRestarts < context.maxCaptureRestarts,
    mayFallBack: ({ context }) => context.captureStrategy !== 'screencast',
    /** A page waiting on a dialog or a load is not hung, whatever the probe says. */
    pageBusy: ({ context, event }) =>
      context.dialog !== undefined ||
      navigationPending(context) ||
      (event.type === 'page.unresponsive' &&
        (event.loading === true ||
          (event.probeStartedAt ?? Number.POSITIVE_INFINITY) <= context.busyEndedAt)),
    /** A beforeunload dialog opened by a navigation castpool was asked for: the ask was the answer. */
    leavesForRequestedNavigation: ({ context, event }) =>
      event.type === 'dialog.opened' && event.dialog.type === 'beforeunload' && navigationPending(context),
    policyAnswersDialogs: ({ context }) => context.params.dialogs !== 'surface',
    hasDialog: ({ context }) => context.dialog !== undefined,
    hasFileChooser: ({ context }) => context.fileChooser !== undefined,
    isOpenWidget: ({ context, event }) => event.type === 'widget.answer' && context.widget?.id === event.id,
    tabsFull: ({ context }) => context.tabs.length >= context.maxTabs,
    /** A tab of the session other than the active one. */
    isOtherTab: ({ context, event }) =>
      (event.type === 'tab.activate' || event.type === 'tab.close') &&
      context.tabs.some((tab) => tab.id === event.tabId && tab.page !== context.page),
    isActiveTab: ({ context, event }) =>
      (event.type === 'tab.close' || event.type === 'tab.gone') &&
      context.tabs.length > 1 &&
      context.tabs.some(
        (tab) =>
          tab.page === context.page &&
          (event.type === 'tab.close' ? tab.id === event.tabId : tab.page === event.page),
      ),
    isBackgroundTab: ({ context, event }) =>
      event.type === 'tab.gone' &&
      context.tabs.some((tab) => tab.page === event.page && tab.page !== context.page),
    isLastTab: ({ context, event }) =>
      event.type === 'tab.gone' && context.tabs.length === 1 && context.tabs[0]?.page === event.page,
    isOpenDialog: ({ context, event }) => event.type === 'dialog.expired' && context.dialog?.id === event.id,
    withinRestartBudget: ({ context }) => {
      const since = context.now() - context.restart.windowMs;
      return context.restartTimes.filter((at) => at > since).length < context.restart.max;
    },
    offerFits: ({ context, event }) =>
      event.type === 'viewer.offer' && codecFits(context, event.offer.viewerId, event.offer.codec),
    /** The same rule the command layer words its 409 with (control-lease.ts). */
    mayTakeControl: ({ context, event }) =>
      (event.type === 'control.take' || event.type === 'control.request') &&
      takeRefusal(
        context.control,
        event.party,
        context.controlRules,
        context.now(),
        event.type === 'control.take' && event.force === true,
      ) === undefined,
    /** The holder itself, an operator's force, or nobody holds it (nothing to do then). */
    mayReleaseControl: ({ context, event }) =>
      event.type === 'control.release' &&
      (event.force === true || sameParty(context.control.holder, event.party)),
    joinFits: ({ context, event }) =>
      event.type === 'viewer.join' && codecFits(context, event.viewer.viewerId, event.viewer.codec),
  },
  delays: {
    idleTimeout: ({ context }) => context.idleTimeoutMs,
    freezeDelay: ({ context }) => context.freezeAfterMs,
    dialogTimeout: ({ context }) => context.params.dialogTimeoutMs,
    finaliseBeforeClose: 5000,
    restartBackoff: ({ context }) => {
      const attempt = Math.max(0, context.restartTimes.length - 1);
      return Math.min(context.restart.backoffMaxMs, context.restart.backoffBaseMs * 2 ** attempt);
    },
  },
  actions: {
    /** The event that woke a frozen session, handled again now that its pages run. */
    handleAwake: raise(({ event }) => event),
    /** A CDP client came: under `defaultHolder: agent` it drives unless someone does. */
    countAutomationClient: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ automationClients: context.automationClients + 1 });
      if (!context.control.holder && context.controlRules.defaultHolder === 'agent')
        setLease(context, letGo(context.controlRules, true, context.now()), enqueue);
    }),
    /** The last CDP client left: the agent holds nothing any more. */
    uncountAutomationClient: enqueueActions(({ context, enqueue }) => {
      const clients = Math.max(0, context.automationClients - 1);
      enqueue.assign({ automationClients: clients });
      if (clients === 0) partyLeft(context, (party) => party.kind === 'agent', false, enqueue);
    }),
    grantControl: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'control.take' && event.type !== 'control.request') return;
      const how = event.type === 'control.take' ? event.how : 'take';
      setLease(context, granted(context.control, event.party, how, context.now()), enqueue);
    }),
    releaseControl: enqueueActions(({ context, enqueue }) => {
      if (!context.control.holder) return;
      setLease(context, letGo(context.controlRules, context.automationClients > 0, context.now()), enqueue);
    }),
    /** Asked for while another party holds it: the holder is told (its control bar, the session view). */
    recordControlRequest: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'control.request') return;
      setLease(context, { ...context.control, requested: { by: event.party, at: context.now() } }, enqueue);
    }),
    noteControlActivity: assign(({ context, event }) =>
      event.type === 'control.active' && sameParty(context.control.holder, event.party)
        ? { control: { ...context.control, activeAt: context.now() } }
        : {},
    ),
    /** An `input` hold whose holder stopped driving is let go; one still in use is timed again. */
    checkControlLapse: enqueueActions(({ context, enqueue }) => {
      const { control, controlRules } = context;
      if (control.how !== 'input') return;
      const idle = context.now() - control.activeAt;
      if (idle >= controlRules.idleReleaseMs)
        setLease(context, letGo(controlRules, context.automationClients > 0, context.now()), enqueue);
      else setLease(context, control, enqueue);
    }),
    countRestart: assign(({ context }) => {
      const since = context.now() - context.restart.windowMs;
      return {
        restartTimes: [...context.restartTimes.filter((at) => at > since), context.now()],
        restartsTotal: context.restartsTotal + 1,
        browser: undefined,
      };
    }),
    /** The pool places a restarting session on a (new) browser host. */
    releaseHost: sendParent(({ context }) => ({ type: 'session.release', sessionId: context.sessionId })),
    requestHost: sendParent(({ context }) => ({ type: 'session.rehost', sessionId: context.sessionId })),
    rememberBrowser: assign({
      browser: ({ event }) => (event.type === 'host.ready' ? event.browser : undefined),
    }),
    recordFailure: assign({
      failure: ({ event }) => {
        if ('reason' in event) return failureSentence(event.reason);
        if ('error' in event) return failureSentence(event.error);
        return 'unknown failure';
      },
    }),
    /** The tab capture kept failing: this session's viewers get the screencast from now on. */
    fallBackToScreencast: assign(({ event }) => ({
      captureStrategy: 'screencast' as const,
      captureFallback: event.type === 'capture.failed' ? failureSentence(event.reason) : 'capture failed',
      captureRestarts: 0,
    })),
    /** A failed session asked to come back (resume, navigate): a fresh restart budget. */
    revive: assign(({ event }) => ({
      failure: undefined,
      restartTimes: [],
      captureRestarts: 0,
      ...(event.type === 'navigate'
        ? { url: event.url, latestNavigationId: event.requestId, openNavigationId: event.requestId }
        : {}),
    })),
    /** An offer is taken: its viewer actor negotiates, and the capture starts for it meanwhile. */
    takeOffer: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'viewer.offer' || !context.page) return;
      const { offer } = event;
      enqueue.assign({ offers: { ...context.offers, [offer.viewerId]: offer }, codec: offer.codec });
      enqueue.spawnChild('viewer', {
        id: `viewer:${offer.viewerId}`,
        input: {
          page: context.page,
          offer,
          audio: context.params.audio,
          control: { lease: context.control, rules: context.controlRules },
        },
      });
    }),
    refuseOffer: emit(({ context, event }) => ({
      type: 'viewer.refused' as const,
      viewerId: event.type === 'viewer.offer' ? event.offer.viewerId : '',
      reason: context.page
        ? `the session encodes ${context.codec} for its viewers now`
        : 'the session is not live now',
      retryable: true,
    })),
    addViewer: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'viewer.join') return;
      const { viewer } = event;
      const { [viewer.viewerId]: _negotiated, ...offers } = context.offers;
      enqueue.assign({
        viewers: { ...context.viewers, [viewer.viewerId]: viewer },
        offers,
        codec: viewer.codec,
        lastViewedAt: context.now(),
      });
      enqueue.emit({ type: 'viewer.joined', viewer });
      // One tab needs no tab strip: a viewer learns the list once there are more.
      if (context.tabs.length > 1)
        enqueue.sendTo(`viewer:${viewer.viewerId}`, {
          type: 'viewer.tabs',
          tabs: tabList(context),
        } satisfies ViewerCommand);
      if (context.widget)
        enqueue.sendTo(`viewer:${viewer.viewerId}`, {
          type: 'viewer.widget',
          widget: context.widget,
        } satisfies ViewerCommand);
      if (context.dialog)
        enqueue.sendTo(`viewer:${viewer.viewerId}`, {
          type: 'viewer.dialog',
          dialog: context.dialog,
        } satisfies ViewerCommand);
    }),
    /** A negotiated viewer the session cannot take now (it stopped being live meanwhile). */
    refuseJoin: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'viewer.join') return;
      const { viewerId } = event.viewer;
      dropOffer(context, viewerId, enqueue);
      enqueue.emit({
        type: 'viewer.refused',
        viewerId,
        reason: 'the session stopped being live while the viewer negotiated',
        retryable: true,
      });
    }),
    /** Its viewer actor could not answer the offer. */
    dropUnanswered: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'viewer.unanswered') return;
      dropOffer(context, event.viewerId, enqueue);
      enqueue.emit({
        type: 'viewer.refused',
        viewerId: event.viewerId,
        reason: event.reason,
        retryable: false,
      });
    }),
    /** Viewers outlive a restart; their input goes to the new page. */
    tellViewersPage: enqueueActions(({ context, enqueue }) => {
      if (!context.page) return;
      for (const id of Object.keys(context.viewers))
        enqueue.sendTo(`viewer:${id}`, { type: 'viewer.page', page: context.page });
    }),
    recordViewport: assign(({ context, event }) => {
      if (event.type !== 'viewport.changed') return {};
      return { params: { ...context.params, viewport: event.viewport } };
    }),
    removeViewer: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'viewer.left' || !context.viewers[event.viewerId]) return;
      const { viewerId } = event;
      enqueue.stopChild(`viewer:${viewerId}`);
      const { [viewerId]: _gone, ...rest } = context.viewers;
      enqueue.assign({ viewers: rest, lastViewedAt: context.now() });
      const agentAttached = context.automationClients > 0;
      partyLeft(
        { ...context, viewers: rest },
        (party) => party.kind === 'person' && party.viewerId === viewerId,
        agentAttached,
        enqueue,
      );
    }),
    forwardIceRestart: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'viewer.iceRestart') return;
      const { viewerId, requestId, credentials } = event;
      if (context.viewers[viewerId])
        enqueue.sendTo(`viewer:${viewerId}`, { type: 'viewer.iceRestart', requestId, credentials });
      else enqueue.emit({ type: 'viewer.iceRestarted', requestId, error: 'the viewer is not connected' });
    }),
    answerIceRestart: enqueueActions(({ event, enqueue }) => {
      if (event.type !== 'viewer.iceRestarted') return;
      const { type: _type, ...answer } = event;
      enqueue.emit({ type: 'viewer.iceRestarted', ...answer });
    }),
    removeAllViewers: enqueueActions(({ context, enqueue }) => {
      partyLeft(
        { ...context, viewers: {} },
        (party) => party.kind === 'person',
        context.automationClients > 0,
        enqueue,
      );
      for (const id of Object.keys(context.viewers)) enqueue.stopChild(`viewer:${id}`);
      for (const id of Object.keys(context.offers)) {
        enqueue.stopChild(`viewer:${id}`);
        enqueue.emit({
          type: 'viewer.refused',
          viewerId: id,
          reason: 'the session stopped being live while the viewer negotiated',
          retryable: true,
        });
      }
      enqueue.assign({ viewers: {}, offers: {} });
    }),
    startNavigation: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'navigate' || !context.page) return;
      enqueue.assign({ latestNavigationId: event.requestId });
      enqueue.spawnChild('navigatePage', {
        id: `navigate:${event.requestId}`,
        input: { page: context.page, requestId: event.requestId, url: event.url },
      });
    }),
    /** A popup's URL, loaded in the session's own page like a navigate (the URL policy applies there). */
    followPopup: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'popup.opened' || !context.page) return;
      const requestId = `popup-${context.popupsFollowed + 1}`;
      enqueue.assign({ popupsFollowed: context.popupsFollowed + 1, latestNavigationId: requestId });
      enqueue.spawnChild('navigatePage', {
        id: `navigate:${requestId}`,
        input: { page: context.page, requestId, url: event.url },
      });
    }),
    /** A fresh page (a launch, restart or resume) is the session's one tab. */
    openFirstTab: enqueueActions(({ context, enqueue }) => {
      if (!context.page) return;
      const tab: SessionTab = {
        id: `tab-${context.tabsOpened + 1}`,
        page: context.page,
        url: context.url,
        title: '',
      };
      enqueue.assign({ tabs: [tab], tabsOpened: context.tabsOpened + 1 });
      // Viewers that saw several tabs before a restart learn there is one now.
      if (context.tabs.length > 1) tellViewersTabs({ ...context, tabs: [tab] }, enqueue);
    }),
    /** A window the page opened becomes the active tab (a browser shows a new tab it opened). */
    adoptTab: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'tab.opened') return;
      const tab: SessionTab = {
        id: `tab-${context.tabsOpened + 1}`,
        page: event.page,
        url: event.url,
        title: event.title,
      };
      enqueue.assign({ tabsOpened: context.tabsOpened + 1 });
      activate(context, tab, [...context.tabs, tab], enqueue);
      enqueue.emit({ type: 'tab.changed', change: 'opened', tabId: tab.id, url: tab.url });
    }),
    /** Past the tab limit: the window is closed, as a browser's popup blocker would. */
    refuseTab: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'tab.opened' && event.type !== 'tab.refused' && event.type !== 'tab.open') return;
      if (event.type === 'tab.opened')
        enqueue.sendTo('tabs', { type: 'tabs.close', page: event.page } satisfies TabCommand);
      enqueue.emit({
        type: 'tab.changed',
        change: 'refused',
        tabId: '',
        url: `${event.url} (the session has ${context.maxTabs} tabs, its limit)`,
      });
    }),
    switchTab: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'tab.activate') return;
      const next = context.tabs.find((tab) => tab.id === event.tabId);
      if (!next) return;
      activate(
        context,
        { ...next, dialog: undefined },
        context.tabs.map((tab) => (tab === next ? { ...tab, dialog: undefined } : tab)),
        enqueue,
      );
      enqueue.emit({ type: 'tab.changed', change: 'activated', tabId: next.id, url: next.url });
    }),
    /** A tab in the background closes (asked by a client, or by the page itself). */
    dropBackgroundTab: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'tab.close' && event.type !== 'tab.gone') return;
      const gone = context.tabs.find((tab) =>
        event.type === 'tab.close' ? tab.id === event.tabId : tab.page === event.page,
      );
      if (!gone || gone.page === context.page) return;
      if (event.type === 'tab.close')
        enqueue.sendTo('tabs', { type: 'tabs.close', page: gone.page } satisfies TabCommand);
      const tabs = context.tabs.filter((tab) => tab !== gone);
      enqueue.assign({ tabs });
      tellViewersTabs({ ...context, tabs }, enqueue);
      enqueue.emit({ type: 'tab.changed', change: 'closed', tabId: gone.id, url: gone.url });
    }),
    /** The active tab closes: the one before it (or after, for the first) becomes active. */
    dropActiveTab: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'tab.close' && event.type !== 'tab.gone') return;
      const index = context.tabs.findIndex((tab) => tab.page === context.page);
      const gone = context.tabs[index];
      const tabs = context.tabs.filter((tab) => tab !== gone);
      const next = tabs[Math.max(0, index - 1)];
      if (!gone || !next) return;
      if (event.type === 'tab.close')
        enqueue.sendTo('tabs', { type: 'tabs.close', page: gone.page } satisfies TabCommand);
      // Its dialog (if any) goes with it: not carried to the tab list.
      activate(
        { ...context, dialog: undefined },
        { ...next, dialog: undefined },
        tabs.map((tab) => (tab === next ? { ...tab, dialog: undefined } : tab)),
        enqueue,
      );
      enqueue.emit({ type: 'tab.changed', change: 'closed', tabId: gone.id, url: gone.url });
      enqueue.emit({ type: 'tab.changed', change: 'activated', tabId: next.id, url: next.url });
    }),
    updateTab: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'tab.updated') return;
      const { url, title, dialog } = event;
      let changed = false;
      const tabs = context.tabs.map((tab) => {
        if (tab.page !== event.page) return tab;
        const shown = tab.page === context.page ? undefined : dialog;
        if (tab.url === url && tab.title === title && tab.dialog === shown) return tab;
        changed = true;
        return { ...tab, url, title, dialog: shown };
      });
      if (!changed) return;
      // The active tab's page is what the session shows: a navigation in it (a link, a script, a CDP
      // client's goto) moves the session's URL, which a restart or a resume reopens.
      const shown = event.page === context.page && /^https?:/.test(url) ? { url } : {};
      enqueue.assign({ tabs, ...shown });
      tellViewersTabs({ ...context, tabs }, enqueue);
    }),
    /** Controlling viewers draw the widget the page opened (one at a time, as a browser shows it). */
    showWidget: enqueueActions(({ context, event, enqueue }) => {
      if (event.type === 'widget.opened') setWidget(context, event.widget, enqueue);
    }),
    chooseInWidget: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'widget.answer') return;
      enqueue.sendTo('widgets', {
        type: 'widget.choose',
        id: event.id,
        value: event.value,
      } satisfies WidgetCommand);
      setWidget(context, undefined, enqueue);
    }),
    forgetWidget: enqueueActions(({ context, enqueue }) => {
      if (context.widget) setWidget(context, undefined, enqueue);
    }),
    recordFileChooser: assign(({ context, event }) =>
      event.type === 'fileChooser.opened'
        ? {
            fileChooser: { id: context.fileChoosersOpened + 1, mode: event.mode, openedAt: context.now() },
            fileChoosersOpened: context.fileChoosersOpened + 1,
          }
        : {},
    ),
    giveFiles: sendTo(
      'fileChooser',
      ({ event }): FileChooserCommand => ({
        type: 'fileChooser.answer',
        files: event.type === 'fileChooser.answer' ? event.files : [],
      }),
    ),
    closeFileChooser: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'fileChooser.done' || !context.fileChooser) return;
      enqueue.emit({ type: 'fileChooser.closed', id: context.fileChooser.id, error: event.error });
      enqueue.assign({ fileChooser: undefined });
    }),
    takeThumbnail: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'thumbnail.request' || !context.page) return;
      const { requestId, width } = event;
      enqueue.spawnChild('thumbnail', {
        id: `thumbnail:${requestId}`,
        input: { page: context.page, requestId, width },
      });
    }),
    readState: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'state.request' || !context.page) return;
      enqueue.spawnChild('pageState', {
        id: `state:${event.requestId}`,
        input: { page: context.page, requestId: event.requestId },
      });
    }),
    /** Not live: a hibernated session answers with what it saved; otherwise there is nothing to read. */
    answerStateFromSaved: emit(({ context, event }) => {
      const requestId = event.type === 'state.request' ? event.requestId : '';
      return context.saved && 'cookies' in context.saved
        ? { type: 'state.read' as const, requestId, state: context.saved }
        : { type: 'state.read' as const, requestId, error: 'the session is not live now' };
    }),
    deliverState: enqueueActions(({ event, enqueue }) => {
      if (event.type !== 'state.done') return;
      enqueue.stopChild(`state:${event.requestId}`);
      enqueue.emit({
        type: 'state.read',
        requestId: event.requestId,
        state: event.state,
        error: event.error,
      });
    }),
    refuseThumbnail: emit(({ event }) => ({
      type: 'thumbnail.taken' as const,
      requestId: event.type === 'thumbnail.request' ? event.requestId : '',
      error: 'the session is not live now',
    })),
    deliverThumbnail: enqueueActions(({ event, enqueue }) => {
      if (event.type !== 'thumbnail.done') return;
      enqueue.stopChild(`thumbnail:${event.requestId}`);
      enqueue.emit({
        type: 'thumbnail.taken',
        requestId: event.requestId,
        jpeg: event.jpeg,
        error: event.error,
      });
    }),
    absorbChildError: enqueueActions(({ context, event, enqueue }) => {
      const childId = event.type.replace(/^xstate\.error\.actor\./, '');
      const error = 'error' in event ? event.error : undefined;
      const message = error instanceof Error ? error.message : String(error);
      if (childId.startsWith('viewer:')) {
        const viewerId = childId.slice(7);
        const { [viewerId]: _gone, ...viewers } = context.viewers;
        const { [viewerId]: _unanswered, ...offers } = context.offers;
        enqueue.assign({ viewers, offers });
        partyLeft(
          { ...context, viewers },
          (party) => party.kind === 'person' && party.viewerId === viewerId,
          context.automationClients > 0,
          enqueue,
        );
        if (Object.hasOwn(context.offers, viewerId))
          enqueue.emit({ type: 'viewer.refused', viewerId, reason: message, retryable: false });
      } else if (childId.startsWith('navigate:')) {
        const requestId = childId.slice(9);
        enqueue.assign({ lastNavigation: { requestId, url: context.url, error: message } });
      } else if (childId.startsWith('state:')) {
        enqueue.emit({ type: 'state.read', requestId: childId.slice(6), error: message });
      } else if (childId.startsWith('thumbnail:')) {
        enqueue.emit({ type: 'thumbnail.taken', requestId: childId.slice(10), error: message });
      } else if (childId.startsWith('recording:')) {
        const recordingId = childId.slice(10);
        const bytes = context.recordings.find((r) => r.id === recordingId)?.bytes ?? 0;
        enqueue.raise({ type: 'recording.ended', recordingId, bytes, reason: message, error: message });
      }
    }),
    /** The page opens blank and live at once; the first URL loads like any navigation. */
    startInitialNavigation: enqueueActions(({ context, enqueue }) => {
      if (!context.page) return;
      const requestId = context.openNavigationId ?? 'initial';
      enqueue.assign({ latestNavigationId: requestId, openNavigationId: undefined });
      enqueue.spawnChild('navigatePage', {
        id: `navigate:${requestId}`,
        input: { page: context.page, requestId, url: context.url },
      });
    }),
    recordNavigation: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'navigate.done') return;
      enqueue.stopChild(`navigate:${event.result.requestId}`);
      const current = event.result.requestId === context.latestNavigationId && !event.result.error;
      enqueue.assign({
        lastNavigation: event.result,
        url: current ? event.result.url : context.url,
        busyEndedAt: context.now(),
      });
    }),
    recordStats: assign(({ context, event }) => {
      if (event.type !== 'capture.stats') return {};
      const warmingUp = context.windowsSinceStart < context.throttle.warmupWindows;
      const overloaded = !warmingUp && isOverloaded(event.stats, context.throttle);
      return {
        windowsSinceStart: context.windowsSinceStart + 1,
        peakFps: Math.max(event.stats.deliveredFps, context.peakFps * PEAK_DECAY_PER_WINDOW),
        stats: { ...event.stats, droppedTotal: context.droppedBefore + event.stats.droppedTotal },
        overloadWindows: overloaded ? context.overloadWindows + 1 : 0,
        healthyWindows: overloaded ? 0 : context.healthyWindows + 1,
      };
    }),
    /** Answers the page's dialog now (by policy, or for a navigation castpool was asked for). */
    answerDialogAtOnce: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'dialog.opened') return;
      const accept = event.dialog.type === 'beforeunload' || context.params.dialogs === 'accept';
      const dialog = numbered(context, event.dialog);
      enqueue.assign({ dialogsOpened: dialog.id, busyEndedAt: context.now() });
      enqueue.sendTo('dialogs', {
        type: 'dialog.answer',
        accept,
        promptText: accept ? dialog.defaultPrompt : undefined,
      } satisfies DialogCommand);
      const by = context.params.dialogs === 'surface' ? 'navigation' : 'policy';
      enqueue.emit({ type: 'dialog.closed', dialog, accepted: accept, by });
    }),
    /** Shows the dialog to clients and waits for an answer (or its timeout). */
    surfaceDialog: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'dialog.opened') return;
      const dialog = numbered(context, event.dialog);
      enqueue.assign({ dialog, dialogsOpened: dialog.id });
      enqueue.emit({ type: 'dialog.opened', dialog });
      tellViewersDialog(context, dialog, enqueue);
      if (context.params.dialogTimeoutMs > 0)
        enqueue.raise({ type: 'dialog.expired', id: dialog.id }, { delay: 'dialogTimeout' });
    }),
    answerDialog: enqueueActions(({ context, event, enqueue }) => {
      const { dialog } = context;
      if (!dialog) return;
      // A navigation asked for leaves the page: a beforeunload is accepted.
      const accept = event.type === 'dialog.answer' ? event.accept : event.type === 'navigate';
      const promptText = event.type === 'dialog.answer' ? event.promptText : undefined;
      enqueue.sendTo('dialogs', { type: 'dialog.answer', accept, promptText } satisfies DialogCommand);
      enqueue.assign({ dialog: undefined, busyEndedAt: context.now() });
      tellViewersDialog(context, null, enqueue);
      const by =
        event.type === 'dialog.expired' ? 'timeout' : event.type === 'navigate' ? 'navigation' : 'client';
      enqueue.emit({ type: 'dialog.closed', dialog, accepted: accept, by });
    }),
    /** The dialog went without castpool's answer (the page navigated, a viewer's click closed it). */
    forgetDialog: enqueueActions(({ context, event, enqueue }) => {
      const { dialog } = context;
      if (!dialog || event.type !== 'dialog.closed') return;
      enqueue.assign({ dialog: undefined, busyEndedAt: context.now() });
      tellViewersDialog(context, null, enqueue);
      enqueue.emit({ type: 'dialog.closed', dialog, accepted: event.accepted, by: 'page' });
    }),
    /**
     * The active tab is left (another tab becomes active, a restart or hibernation takes the page):
     * its dialog and file chooser are no longer the session's; a dialog stays marked on its tab.
     */
    dropPrompts: enqueueActions(({ context, enqueue }) => {
      if (context.fileChooser) enqueue.assign({ fileChooser: undefined });
      if (context.widget) setWidget(context, undefined, enqueue);
      const { dialog } = context;
      if (!dialog) return;
      enqueue.assign({
        dialog: undefined,
        tabs: context.tabs.map((tab) => (tab.page === context.page ? { ...tab, dialog: dialog.type } : tab)),
      });
      tellViewersDialog(context, null, enqueue);
    }),
    /** A recording starts (it counts as a watcher, so the capture runs), or the client learns why not. */
    startRecording: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'recording.start') return;
      const { requestId } = event;
      const refusal = recordingRefusal(context);
      if (refusal || !context.page) {
        enqueue.emit({
          type: 'recording.refused',
          requestId,
          ...(refusal ?? { kind: 'conflict', reason: 'the session is not live now' }),
        });
        return;
      }
      const codec = recordingCodec(context);
      const recording = {
        id: `rec-${context.recordingsStarted + 1}`,
        state: 'starting' as const,
        codec,
        bytes: 0,
        startedAt: context.now(),
      };
      enqueue.assign({
        recordings: [...context.recordings, recording],
        recordingsStarted: context.recordingsStarted + 1,
        codec,
        lastViewedAt: context.now(),
      });
      enqueue.spawnChild('recorder', {
        id: `recording:${recording.id}`,
        input: {
          sessionId: context.sessionId,
          recordingId: recording.id,
          startedAt: recording.startedAt,
          page: context.page,
          codec,
          audio: context.params.audio,
          maxBytes: recordingAllowance(context),
        },
      });
      enqueue.emit({ type: 'recording.accepted', requestId, recording });
    }),
    refuseRecording: emit(({ event }) => ({
      type: 'recording.refused' as const,
      requestId: event.type === 'recording.start' ? event.requestId : '',
      kind: 'conflict' as const,
      reason: 'the session is not live now',
    })),
    markRecordingBegun: assign(({ context, event }) =>
      event.type === 'recording.begun'
        ? { recordings: patchRecording(context.recordings, event.recordingId, { state: 'recording' }) }
        : {},
    ),
    updateRecording: assign(({ context, event }) =>
      event.type === 'recording.progress'
        ? { recordings: patchRecording(context.recordings, event.recordingId, { bytes: event.bytes }) }
        : {},
    ),
    /** A running recording is finalised (answered when it ends); a finished one is removed at once. */
    stopRecording: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'recording.stop') return;
      const { requestId, recordingId } = event;
      const recording = context.recordings.find((r) => r.id === recordingId);
      if (!recording) {
        enqueue.emit({
          type: 'recording.refused',
          requestId,
          kind: 'not_found',
          reason: `recording ${recordingId} not found`,
        });
        return;
      }
      if (!isRecording(recording)) {
        enqueue.cancel(`expire:${recordingId}`);
        enqueue.spawnChild('removeRecording', { input: { sessionId: context.sessionId, recordingId } });
        enqueue.assign({ recordings: context.recordings.filter((r) => r.id !== recordingId) });
        enqueue.emit({ type: 'recording.stopped', requestId, recording, removed: true });
        return;
      }
      enqueue.assign({
        recordings: patchRecording(context.recordings, recordingId, { state: 'finalizing' }),
        recordingStops: [...context.recordingStops, { requestId, recordingId }],
      });
      enqueue.sendTo(`recording:${recordingId}`, {
        type: 'recorder.stop',
        reason: 'stopped by a client',
      } satisfies RecorderCommand);
    }),
    /**
     * Asked to close while recording: the recordings are finalised first, with the capture still
     * running (ffmpeg acts on its stop signal only when a packet comes: with the page gone it would
     * wait out its 30 s silence limit). Closes when they are final, after finaliseBeforeClose, or when
     * asked to close again.
     */
    finaliseBeforeClosing: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({
        closingAfterRecordings: true,
        recordings: context.recordings.map((r) =>
          isRecording(r) ? { ...r, state: 'finalizing' as const } : r,
        ),
      });
      enqueue.raise({ type: 'close' }, { id: 'close-after-recordings', delay: 'finaliseBeforeClose' });
    }),
    /** Every running recording is finalised (the session failed or ends). */
    stopRecordings: enqueueActions(({ context, enqueue }) => {
      const reason = context.failure ? 'the session failed' : 'the session ended';
      for (const recording of context.recordings.filter(isRecording))
        enqueue.sendTo(`recording:${recording.id}`, {
          type: 'recorder.stop',
          reason,
        } satisfies RecorderCommand);
    }),
    /** The file is final: kept for the retention time, and whoever asked for the stop is answered. */
    endRecording: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'recording.ended') return;
      const { recordingId, bytes, reason, error } = event;
      const before = context.recordings.find((r) => r.id === recordingId);
      if (!before) return;
      const recording = {
        ...before,
        state: error ? ('failed' as const) : ('completed' as const),
        bytes,
        endedAt: context.now(),
        reason: error ?? reason,
      };
      enqueue.stopChild(`recording:${recordingId}`);
      enqueue.assign({
        recordings: context.recordings.map((r) => (r.id === recordingId ? recording : r)),
        recordingStops: context.recordingStops.filter((stop) => stop.recordingId !== recordingId),
      });
      for (const stop of context.recordingStops)
        if (stop.recordingId === recordingId)
          enqueue.emit({ type: 'recording.stopped', requestId: stop.requestId, recording, removed: false });
      enqueue.raise(
        { type: 'recording.expired', recordingId },
        { id: `expire:${recordingId}`, delay: context.recordingLimits.retentionMs },
      );
      // The last one a close waited for: it closes now.
      const stillRecording = context.recordings.some((r) => r.id !== recordingId && isRecording(r));
      if (context.closingAfterRecordings && !stillRecording) {
        enqueue.cancel('close-after-recordings');
        enqueue.raise({ type: 'close' });
      }
    }),
    expireRecording: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'recording.expired') return;
      const { recordingId } = event;
      const recording = context.recordings.find((r) => r.id === recordingId);
      if (!recording || isRecording(recording)) return;
      enqueue.spawnChild('removeRecording', { input: { sessionId: context.sessionId, recordingId } });
      enqueue.assign({ recordings: context.recordings.filter((r) => r.id !== recordingId) });
    }),
    recordDownload: assign(({ context, event }) =>
      event.type === 'download.begun' ? { downloads: [...context.downloads, event.download] } : {},
    ),
    updateDownload: assign(({ context, event }) => {
      if (event.type !== 'download.progress') return {};
      const { id, bytes, state, reason } = event;
      return {
        downloads: context.downloads.map((d) =>
          d.id === id ? { ...d, bytes, state, ...(reason ? { reason } : {}) } : d,
        ),
      };
    }),
    resetWindows: assign({ overloadWindows: 0, healthyWindows: 0 }),
    startWindows: assign({
      overloadWindows: 0,
      healthyWindows: 0,
      windowsSinceStart: 0,
      peakFps: 0,
      watchedSince: ({ context }) => context.now(),
    }),
    /** A new capture counts drops from zero; keep the session's total. */
    carryDrops: assign(({ context }) => ({
      droppedBefore: context.stats.droppedTotal,
      stats: { ...emptyStats, droppedTotal: context.stats.droppedTotal },
    })),
    clearRestarts: assign({ captureRestarts: 0 }),
    countCaptureRestart: assign({ captureRestarts: ({ context }) => context.captureRestarts + 1 }),
    useFullRate: assign({ currentFps: ({ context }) => context.params.fps }),
    useThrottledRate: assign({ currentFps: ({ context }) => throttledFps(context.params, context.throttle) }),
    tellCaptureRate: sendTo(
      'capture',
      ({ context }): CaptureCommand => ({ type: 'capture.rate', fps: captureFps(context) }),
    ),
    recordShare: assign({
      shareFps: ({ context, event }) => (event.type === 'budget.share' ? event.fps : context.shareFps),
    }),
    /** A new share changes the capture only when it changes the rate in force. */
    applyShare: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'budget.share') return;
      const fps = captureFps({ currentFps: context.currentFps, shareFps: event.fps });
      enqueue.assign({ shareFps: event.fps });
      if (fps !== captureFps(context))
        enqueue.sendTo('capture', { type: 'capture.rate', fps } satisfies CaptureCommand);
    }),
    askKeyframe: sendTo('capture', ({ event }) =>
      event.type === 'keyframe.request' && event.layer
        ? ({ type: 'capture.keyframe', layer: event.layer } satisfies CaptureCommand)
        : ({ type: 'capture.keyframe' } satisfies CaptureCommand),
    ),
    stopStats: assign({
      stats: ({ context }) => ({ ...emptyStats, droppedTotal: context.stats.droppedTotal }),
    }),
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({
    sessionId: input.sessionId,
    params: input.params,
    throttle: input.throttle,
    url: input.params.url,
    saved: input.saved,
    createdAt: (input.now ?? Date.now)(),
    viewers: {},
    offers: {},
    currentFps: input.params.fps,
    shareFps: null,
    stats: emptyStats,
    droppedBefore: 0,
    overloadWindows: 0,
    healthyWindows: 0,
    windowsSinceStart: 0,
    watchedSince: 0,
    peakFps: 0,
    captureRestarts: 0,
    captureStrategy: input.params.capture,
    dialogsOpened: 0,
    fileChoosersOpened: 0,
    popupsFollowed: 0,
    tabs: [],
    tabsOpened: 0,
    automationClients: 0,
    control: freeLease((input.now ?? Date.now)()),
    controlRules: input.control ?? { defaultHolder: 'agent', idleReleaseMs: 15_000 },
    maxTabs: input.maxTabs ?? 8,
    busyEndedAt: 0,
    downloads: [],
    recordings: [],
    recordingsStarted: 0,
    recordingStops: [],
    closingAfterRecordings: false,
    recordingLimits: input.recordingLimits ?? defaultRecordingLimits,
    latestNavigationId: 'initial',
    maxCaptureRestarts: input.maxCaptureRestarts ?? 3,
    restart: input.restart ?? defaultRestartPolicy,
    restartTimes: [],
    restartsTotal: 0,
    idleTimeoutMs: input.idleTimeoutMs ?? 0,
    freezeAfterMs: input.freezeAfterMs ?? 3000,
    lastViewedAt: (input.now ?? Date.now)(),
    now: input.now ?? Date.now,
  }),
  initial: 'launching',
  // The session's files live as long as the session, whatever page or browser it is on.
  invoke: { src: 'sessionFiles', input: ({ context }) => ({ sessionId: context.sessionId }) },
  on: {
    close: '.closing',
    'budget.share': { actions: 'recordShare' },
    // Counted in any state: a client may stay connected across a restart's reconnect.
    'automation.attached': { actions: 'countAutomationClient' },
    'automation.detached': { actions: 'uncountAutomationClient' },
    // One party drives at a time, in any state (a hibernated session keeps who held it).
    'control.take': { guard: 'mayTakeControl', actions: 'grantControl' },
    'control.request': [
      { guard: 'mayTakeControl', actions: 'grantControl' },
      { actions: 'recordControlRequest' },
    ],
    'control.release': { guard: 'mayReleaseControl', actions: 'releaseControl' },
    'control.active': { actions: 'noteControlActivity' },
    'control.lapse': { actions: 'checkControlLapse' },
    // Viewers come and go only while live (the live state takes these first); elsewhere they are refused.
    'viewer.offer': { actions: 'refuseOffer' },
    'viewer.join': { actions: 'refuseJoin' },
    'viewer.unanswered': { actions: 'dropUnanswered' },
    // A viewer's ICE restart goes to its actor wherever the session is (viewers exist only while live).
    'viewer.iceRestart': { actions: 'forwardIceRestart' },
    'viewer.iceRestarted': { actions: 'answerIceRestart' },
    'thumbnail.request': { actions: 'refuseThumbnail' },
    'state.request': { actions: 'answerStateFromSaved' },
    'state.done': { actions: 'deliverState' },
    // Taken while live, delivered wherever the session is now.
    'thumbnail.done': { actions: 'deliverThumbnail' },
    // Reported by the live page's downloads actor; a late report after a restart still counts.
    'download.begun': { actions: 'recordDownload' },
    'download.progress': { actions: 'updateDownload' },
    // Recordings start only while live (the live state takes it first); they end or expire anywhere.
    'recording.start': { actions: 'refuseRecording' },
    'recording.stop': { actions: 'stopRecording' },
    'recording.begun': { actions: 'markRecordingBegun' },
    'recording.progress': { actions: 'updateRecording' },
    'recording.ended': { actions: 'endRecording' },
    'recording.expired': { actions: 'expireRecording' },
    // A spawned viewer or navigation that threw must not take the session down with it.
    'xstate.error.actor.*': { actions: 'absorbChildError' },
  },
  states: {
    launching: {
      initial: 'waitingForHost',
      on: {
        'host.failed': restartOrFail,
        'host.crashed': restartOrFail,
      },
      states: {
        waitingForHost: {
          on: { 'host.ready': { target: 'opening', actions: 'rememberBrowser' } },
        },
        opening: {
          invoke: {
            src: 'openPage',
            input: ({ context }) => ({
              browser: context.browser as BrowserHandle,
              sessionId: context.sessionId,
              params: context.params,
              previous: context.page,
              restore: context.saved,
            }),
            onDone: {
              target: '#session.live',
              actions: [
                assign({ page: ({ event }) => event.output, saved: undefined, hibernation: undefined }),
                'openFirstTab',
                'tellViewersPage',
                'startInitialNavigation',
              ],
            },
            onError: restartOrFail,
          },
        },
      },
    },
    live: {
      tags: ['live'],
      initial: 'tab',
      on: {
        close: [
          { guard: 'recordsWhenClosing', actions: ['finaliseBeforeClosing', 'stopRecordings'] },
          { target: 'closing' },
        ],
        'dialog.opened': [
          { guard: 'leavesForRequestedNavigation', actions: 'answerDialogAtOnce' },
          { guard: 'policyAnswersDialogs', actions: 'answerDialogAtOnce' },
          { actions: 'surfaceDialog' },
        ],
        'dialog.answer': { guard: 'hasDialog', actions: 'answerDialog' },
        'dialog.expired': { guard: 'isOpenDialog', actions: 'answerDialog' },
        'dialog.closed': { actions: 'forgetDialog' },
        'page.unresponsive': [{ guard: 'pageBusy' }, ...restartOrFail],
        'popup.opened': { actions: 'followPopup' },
        // Tabs: a window the page opened becomes the active tab (under `tabs`); switching or closing
        // the active tab re-enters `tab`, so everything bound to the active page starts on the new one.
        'tab.opened': [
          { guard: 'tabsFull', actions: 'refuseTab' },
          { target: '.tab', actions: 'adoptTab' },
        ],
        'tab.refused': { actions: 'refuseTab' },
        'tab.open': [
          { guard: 'tabsFull', actions: 'refuseTab' },
          {
            actions: sendTo(
              'tabs',
              ({ event }) => ({ type: 'tabs.open', url: event.url }) satisfies TabCommand,
            ),
          },
        ],
        'tab.updated': { actions: 'updateTab' },
        'tab.activate': { guard: 'isOtherTab', target: '.tab', actions: 'switchTab' },
        'tab.close': [
          { guard: 'isActiveTab', target: '.tab', actions: 'dropActiveTab' },
          { guard: 'isOtherTab', actions: 'dropBackgroundTab' },
        ],
        'tab.gone': [
          { guard: 'isActiveTab', target: '.tab', actions: 'dropActiveTab' },
          { guard: 'isBackgroundTab', actions: 'dropBackgroundTab' },
          ...restartOrFail.map((step) => ({
            ...step,
            guard: 'guard' in step ? and(['isLastTab', step.guard]) : ('isLastTab' as const),
          })),
        ],
        'fileChooser.opened': { actions: 'recordFileChooser' },
        'widget.opened': { actions: 'showWidget' },
        'widget.answer': { guard: 'isOpenWidget', actions: 'chooseInWidget' },
        'widget.closed': { actions: 'forgetWidget' },
        'fileChooser.answer': { guard: 'hasFileChooser', actions: 'giveFiles' },
        'fileChooser.done': { actions: 'closeFileChooser' },
        'viewer.offer': [{ guard: 'offerFits', actions: 'takeOffer' }, { actions: 'refuseOffer' }],
        'viewer.join': [{ guard: 'joinFits', actions: 'addViewer' }, { actions: 'refuseJoin' }],
        'viewer.left': { actions: 'removeViewer' },
        'recording.start': { actions: 'startRecording' },
        'thumbnail.request': { actions: 'takeThumbnail' },
        'state.request': { actions: 'readState' },
        // A navigation asked for while a dialog waits answers it first (a beforeunload: leave).
        navigate: [
          { guard: 'hasDialog', actions: [{ type: 'answerDialog' }, 'startNavigation'] },
          { actions: 'startNavigation' },
        ],
        'navigate.done': { actions: 'recordNavigation' },
        'viewport.changed': { actions: 'recordViewport' },
        'host.crashed': restartOrFail,
        'page.crashed': restartOrFail,
      },
      // What serves the whole session while live, whichever tab is active.
      invoke: [
        {
          id: 'tabs',
          src: 'tabs',
          input: ({ context }) => ({
            page: context.page as PageHandle,
            params: context.params,
            maxTabs: context.maxTabs,
          }),
        },
        {
          src: 'downloads',
          input: ({ context }) => ({ page: context.page as PageHandle, downloads: context.downloads }),
        },
      ],
      states: {
        // The active tab: entered again whenever another tab becomes active.
        tab: {
          exit: 'dropPrompts',
          // Crashed pages and hung renderers are found here; the browser host watches the process.
          invoke: [
            { src: 'watchPage', input: ({ context }) => ({ page: context.page as PageHandle }) },
            { id: 'dialogs', src: 'dialogs', input: ({ context }) => ({ page: context.page as PageHandle }) },
            {
              id: 'fileChooser',
              src: 'fileChooser',
              input: ({ context }) => ({ page: context.page as PageHandle }),
            },
            { id: 'widgets', src: 'widgets', input: ({ context }) => ({ page: context.page as PageHandle }) },
          ],
          initial: 'idle',
          states: {
            idle: {
              always: { guard: 'hasViewers', target: 'watched' },
              after: {
                idleTimeout: {
                  guard: 'hibernatesWhenIdle',
                  target: '#session.hibernating',
                  actions: assign({
                    hibernation: ({ context }) => ({ at: context.now(), reason: 'idle timeout' }),
                  }),
                },
              },
              on: {
                // The idle timers start again when a CDP client leaves (they did not fire meanwhile).
                'automation.detached': { target: 'idle', reenter: true, actions: 'uncountAutomationClient' },
                hibernate: {
                  target: '#session.hibernating',
                  actions: assign({
                    hibernation: ({ context, event }) => ({ at: context.now(), reason: event.reason }),
                  }),
                },
              },
              initial: 'awake',
              states: {
                awake: {
                  after: { freezeDelay: { guard: 'freezesWhenUnwatched', target: 'frozen' } },
                },
                // Leaving (a viewer, a command that needs the page, hibernation, a restart) stops
                // `freezePages`, which thaws the pages before anything else reaches them.
                frozen: {
                  tags: ['frozen'],
                  invoke: {
                    src: 'freezePages',
                    input: ({ context }) => ({ page: context.page as PageHandle }),
                  },
                  on: {
                    // What needs the page running wakes it, then is handled as in any live state.
                    navigate: { target: 'awake', actions: 'handleAwake' },
                    'tab.activate': { target: 'awake', actions: 'handleAwake' },
                    'tab.close': { target: 'awake', actions: 'handleAwake' },
                    'tab.open': { target: 'awake', actions: 'handleAwake' },
                    'state.request': { target: 'awake', actions: 'handleAwake' },
                    // A CDP client drives the page: it runs while the client is there.
                    'automation.attached': { target: 'awake', actions: 'countAutomationClient' },
                    'dialog.answer': { target: 'awake', actions: 'handleAwake' },
                    'widget.answer': { target: 'awake', actions: 'handleAwake' },
                    'fileChooser.answer': { target: 'awake', actions: 'handleAwake' },
                    // A frozen page runs nothing, a probe's task included: not a hang.
                    'page.unresponsive': {},
                  },
                },
              },
            },
            watched: {
              tags: ['watched'],
              entry: ['startWindows', 'carryDrops'],
              exit: 'stopStats',
              always: { guard: 'hasNoViewers', target: 'idle', actions: ['clearRestarts', 'useFullRate'] },
              invoke: {
                id: 'capture',
                src: 'capture',
                input: ({ context }) => ({
                  page: context.page as PageHandle,
                  params: context.params,
                  strategy: context.captureStrategy,
                  codec: context.codec ?? 'H264',
                  fps: captureFps(context),
                }),
              },
              on: {
                // The capture is sized to the viewport: a resize starts it again at the new size.
                'viewport.changed': { target: 'watched', reenter: true, actions: 'recordViewport' },
                'keyframe.request': { actions: 'askKeyframe' },
                'budget.share': { actions: 'applyShare' },
                // A capture that fails is restarted, then replaced by the screencast, then the whole
                // session restarts (a fresh browser): never a dead session while the budget allows.
                'capture.failed': [
                  {
                    guard: 'mayRestartCapture',
                    target: 'watched',
                    reenter: true,
                    actions: 'countCaptureRestart',
                  },
                  { guard: 'mayFallBack', target: 'watched', reenter: true, actions: 'fallBackToScreencast' },
                  ...restartOrFail,
                ],
              },
              initial: 'streaming',
              states: {
                streaming: {
                  on: {
                    'capture.stats': [
                      {
                        guard: 'overloadPersists',
                        target: 'throttled',
                        actions: ['recordStats', 'useThrottledRate', 'tellCaptureRate', 'resetWindows'],
                      },
                      { actions: ['recordStats', 'clearRestarts'] },
                    ],
                  },
                },
                throttled: {
                  tags: ['throttled'],
                  on: {
                    'capture.stats': [
                      {
                        guard: 'recoveryPersists',
                        target: 'streaming',
                        actions: ['recordStats', 'useFullRate', 'tellCaptureRate', 'resetWindows'],
                      },
                      { actions: 'recordStats' },
                    ],
                  },
                },
              },
            },
          },
        },
      },
    },
    // The browser or page died: back off, ask the pool for a browser, reopen at the last URL.
    // Viewers stay attached: their transport is intact and the stream resumes on the new page.
    restarting: {
      entry: 'countRestart',
      initial: 'backoff',
      invoke: {
        src: 'closePage',
        input: ({ context }) => ({ page: context.page }),
      },
      states: {
        backoff: { after: { restartBackoff: 'waitingForHost' } },
        waitingForHost: {
          entry: 'requestHost',
          on: { 'host.ready': { target: '#session.launching.opening', actions: 'rememberBrowser' } },
        },
      },
      on: {
        'host.failed': restartOrFail,
        'viewer.left': { actions: 'removeViewer' },
      },
    },
    // Save URL, cookies, storage and scroll; release the page (and the browser, if it was the last).
    hibernating: {
      tags: ['asleep'],
      invoke: {
        src: 'hibernatePage',
        input: ({ context }) => ({ page: context.page as PageHandle }),
        onDone: {
          target: 'hibernated',
          // The saved URL is where the page really was (links, redirects), and where it resumes.
          actions: assign({
            saved: ({ event }) => event.output,
            url: ({ event }) => event.output.url,
            page: undefined,
            browser: undefined,
          }),
        },
        onError: {
          target: 'hibernated',
          actions: assign(({ context }) => ({
            saved: { url: context.url },
            page: undefined,
            browser: undefined,
          })),
        },
      },
    },
    hibernated: {
      tags: ['asleep', 'released'],
      entry: 'releaseHost',
      // Asking for a session back counts as viewing it (memory pressure picks others first).
      on: {
        resume: { target: 'resuming', actions: assign({ lastViewedAt: ({ context }) => context.now() }) },
      },
    },
    resuming: {
      tags: ['asleep'],
      entry: 'requestHost',
      on: {
        'host.ready': { target: '#session.launching.opening', actions: 'rememberBrowser' },
        'host.failed': { target: 'failed', actions: 'recordFailure' },
      },
    },
    closing: {
      entry: ['removeAllViewers', 'stopRecordings'],
      always: { guard: ({ context }) => context.page === undefined, target: 'closed' },
      invoke: {
        src: 'closePage',
        input: ({ context }) => ({ page: context.page }),
        onDone: 'closed',
        onError: 'closed',
      },
      on: { close: {} },
    },
    failed: {
      tags: ['failed', 'released'],
      entry: ['removeAllViewers', 'stopRecordings'],
      // Release what the session still holds; a crashed browser has nothing left to release.
      invoke: {
        src: 'closePage',
        input: ({ context }) => ({ page: context.page }),
        onDone: { actions: assign({ page: undefined }) },
        onError: { actions: assign({ page: undefined }) },
      },
      // Not a dead end: asked to resume or go somewhere else, it starts again with a fresh budget.
      on: {
        close: 'closed',
        resume: { target: 'resuming', actions: 'revive' },
        navigate: { target: 'resuming', actions: 'revive' },
      },
    },
    closed: {
      type: 'final',
      entry: assign({ page: undefined, browser: undefined }),
    },
  },
});

export type SessionMachine = typeof sessionMachine;
export type SessionActorRef = ActorRefFrom<typeof sessionMachine>;

/** The user-facing name of a session's state. */
export function sessionStateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const [top, sub] = Object.entries(value)[0] ?? [];
    // live.tab.idle.awake → idle, live.tab.idle.frozen → frozen, live.tab.watched.streaming → streaming;
    // launching.* → launching
    if (top === 'idle') return sub === 'frozen' ? 'frozen' : 'idle';
    if (top === 'live' || top === 'tab' || top === 'watched') return sessionStateName(sub);
    return top ?? 'unknown';
  }
  return 'unknown';
}
