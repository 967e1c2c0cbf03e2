import { fromCallback } from 'xstate';
import {
  type ControlLease,
  type ControlParty,
  type ControlRules,
  driveRefusal,
  freeLease,
  sameParty,
  takeRefusal,
} from '../machines/control-lease.js';
import type { SessionEvent } from '../machines/session.types.js';
import type { PageDialog, PageWidget, TabSummary, ViewerCommand, ViewerInput } from '../machines/types.js';
import { reportCaptureTime } from '../media/capture-time-reports.js';
import { LayerSwitch } from '../media/layer-switch.js';
import type { ActorDeps } from './deps.js';
import { InputBudget } from './input-budget.js';
import { LinkAdaptation } from './link-adaptation.js';
import type { SessionPage } from './page.js';
import { parseControlMessage, RemoteInput } from './remote-input.js';
import { negotiateViewer, type ViewerPeer, type WhepOffer } from './viewer-peer.js';

/** A joined viewer still without a keyframe asks again this often (not every player sends PLIs). */
const KEYFRAME_RETRY_MS = 1000;
/** At most one keyframe request per viewer per this period reaches the capture. */
const KEYFRAME_REQUEST_GAP_MS = 500;
/** A viewer that never connects is dropped so it does not keep the encoder running. */
const CONNECT_LIMIT_MS = 15_000;

/**
 * One viewer of a session: negotiates its WHEP offer and reports `viewer.join` (or
 * `viewer.unanswered`), then plugs its track into the fan-out, reports when it goes away and passes
 * its keyframe requests upstream (rate-limited). Stopping the actor closes the peer, negotiated or not.
 */
export function viewerActor(deps: ActorDeps) {
  return fromCallback<ViewerCommand, ViewerInput>(({ input, sendBack, receive }) => {
    const offer = input.offer as WhepOffer;
    let page = input.page as SessionPage;
    let stopServing: (() => void) | undefined;
    let usePage: ((page: SessionPage) => void) | undefined;
    let served: ReturnType<typeof serveViewer> | undefined;
    let dialog: PageDialog | null = null;
    let tabs: TabSummary[] = [];
    let widget: PageWidget | null = null;
    let control = input.control;
    let stopped = false;
    receive((event) => {
      if (event.type === 'viewer.dialog') {
        dialog = event.dialog;
        served?.showDialog(dialog);
        return;
      }
      if (event.type === 'viewer.tabs') {
        tabs = event.tabs;
        served?.showTabs(tabs);
        return;
      }
      if (event.type === 'viewer.widget') {
        widget = event.widget;
        served?.showWidget(widget);
        return;
      }
      if (event.type === 'viewer.control') {
        control = { lease: event.lease, rules: event.rules };
        served?.showControl(event.lease, event.rules);
        return;
      }
      if (event.type === 'viewer.iceRestart') {
        const { requestId } = event;
        if (!served) {
          sendBack({ type: 'viewer.iceRestarted', requestId, error: 'the viewer is still negotiating' });
          return;
        }
        served.restartIce(event.credentials).then(
          (answer) => {
            if (!stopped) sendBack({ type: 'viewer.iceRestarted', requestId, ...answer });
          },
          (error: Error) => {
            if (!stopped) sendBack({ type: 'viewer.iceRestarted', requestId, error: error.message });
          },
        );
        return;
      }
      page = event.page as SessionPage;
      usePage?.(page);
    });
    negotiateViewer(offer, deps.config.webrtc, input.audio).then(
      (peer) => {
        if (!stopped) sendBack({ type: 'viewer.join', viewer: peer });
        // A refused join stops this actor at once: the peer is then nobody's.
        if (stopped) {
          void peer.close();
          return;
        }
        served = serveViewer(deps, page, peer, sendBack);
        stopServing = served.stop;
        usePage = served.usePage;
        served.showDialog(dialog);
        served.showTabs(tabs);
        served.showWidget(widget);
        served.showControl(control.lease, control.rules);
      },
      (error: Error) => {
        if (!stopped)
          sendBack({ type: 'viewer.unanswered', viewerId: offer.viewerId, reason: error.message });
      },
    );
    return () => {
      stopped = true;
      stopServing?.();
    };
  });
}

/** A negotiated viewer at work until `stop`; `usePage` moves its input to a restarted page. */
function serveViewer(
  deps: ActorDeps,
  page: SessionPage,
  peer: ViewerPeer,
  sendBack: (event: SessionEvent) => void,
): {
  stop: () => void;
  usePage: (page: SessionPage) => void;
  showDialog: (dialog: PageDialog | null) => void;
  showTabs: (tabs: TabSummary[]) => void;
  showWidget: (widget: PageWidget | null) => void;
  showControl: (lease: ControlLease, rules: ControlRules) => void;
  restartIce: (credentials: { ufrag: string; pwd: string }) => Promise<{ fragment: string; etag: string }>;
} {
  const { viewerId } = peer;
  const left = () => sendBack({ type: 'viewer.left', viewerId });
  const sender = peer.videoSender;
  let lastKeyframeRequest = 0;
  let lastWriteAt = 0;
  // The viewer's place among the simulcast layers (the full picture unless its link says otherwise).
  const layers = new LayerSwitch(
    page.fanout,
    viewerId,
    (packet) => {
      lastWriteAt = performance.now();
      peer.writeVideo(packet);
    },
    (packet) => {
      // The new layer's packets follow the last one sent: next sequence number, time moved on.
      const ticks = Math.max(1, Math.round((performance.now() - lastWriteAt) * 90));
      sender?.replaceRTP({
        sequenceNumber: (packet.readUInt16BE(2) - 1) & 0xffff,
        timestamp: (packet.readUInt32BE(4) - ticks) >>> 0,
      });
      deps.metrics.layerSwitches.inc({ to: String(layers.current) });
    },
  );
  peer.layers = layers;
  // Sender reports say when the picture and the sound were captured, so the player can sync them.
  if (sender) reportCaptureTime(sender, () => page.fanout.layers[layers.current]?.clock);
  const { audioSender } = peer;
  if (audioSender) reportCaptureTime(audioSender, () => page.audio.clock);
  const adaptation = new LinkAdaptation(sender, deps.config.encoder.simulcast);
  const askKeyframe = (layer: number) => sendBack({ type: 'keyframe.request', ...(layer ? { layer } : {}) });
  // Packets sent before DTLS is up are lost, keyframe included: join the fan-out only once connected.
  /** Whether this viewer's connection (or its failure to connect) has been counted. */
  let counted = false;
  const connected = () => {
    if (!counted) deps.metrics.viewerConnections.inc({ outcome: 'connected' });
    counted = true;
    layers.join();
    // The session's sound (it travels with the picture across restarts, like the fan-out).
    const { audioTrack } = peer;
    if (audioTrack) page.audio.add(viewerId, (packet) => audioTrack.writeRtp(packet));
    lastKeyframeRequest = Date.now();
    askKeyframe(layers.current);
  };
  const neverConnected = () => {
    if (!counted) deps.metrics.viewerConnections.inc({ outcome: 'failed' });
    counted = true;
    left();
  };
  let connectTimer = setTimeout(() => {
    if (peer.pc.connectionState !== 'connected') neverConnected();
  }, CONNECT_LIMIT_MS);
  const stateSub = peer.pc.connectionStateChange.subscribe((state) => {
    if (state === 'connected') connected();
    if (state === 'failed') neverConnected();
    if (state === 'closed') left();
  });
  if (peer.pc.connectionState === 'connected') connected();
  const pliSub = sender?.onPictureLossIndication.subscribe(() => {
    const now = Date.now();
    if (now - lastKeyframeRequest < KEYFRAME_REQUEST_GAP_MS) return;
    lastKeyframeRequest = now;
    askKeyframe(layers.current);
  });
  // A receiver reports (RTCP) about every second; a closed tab just stops, with no goodbye, and
  // ICE consent would take 30 s to expire. A player that has reported and then falls silent for
  // `supervision.silentViewerMs` is gone (one that never reports is left to ICE). Any RTCP on the viewer's
  // transport counts: werift routes to the sender only reports naming its SSRC, and a receiver
  // that has not decoded yet sends reports naming none (such a viewer was never freed).
  let lastRtcpAt = 0;
  const rtcpSub = sender?.dtlsTransport?.onRtcp.subscribe(() => {
    lastRtcpAt = Date.now();
  });
  const checkTimer = setInterval(() => {
    const now = Date.now();
    if (lastRtcpAt > 0 && now - lastRtcpAt > deps.config.supervision.silentViewerMs) left();
    // The request on joining can go unanswered (a capture being re-established, a busy encoder).
    if (layers.waiting && now - lastKeyframeRequest >= KEYFRAME_RETRY_MS) {
      lastKeyframeRequest = now;
      askKeyframe(layers.current);
    }
    // Which layer this viewer's link carries (simulcast only); a move waits for that layer's keyframe.
    const wanted = adaptation.decide(page.fanout.activeLayers);
    if (layers.want(wanted) || layers.pending >= 0)
      askKeyframe(layers.pending >= 0 ? layers.pending : wanted);
  }, 1000);
  const input$ = new RemoteInput(
    page,
    (viewport) => sendBack({ type: 'viewport.changed', viewport }),
    deps.config.limits.inputQueue,
  );
  let control: { readyState: string; send(data: string): void } | undefined;
  let shownDialog: PageDialog | null = null;
  let shownTabs: TabSummary[] = [];
  /** What a controlling viewer draws that the picture cannot show: the page's dialog, the session's tabs. */
  const sendDialog = () => {
    if (control?.readyState !== 'open') return;
    const dialog = shownDialog && {
      type: shownDialog.type,
      message: shownDialog.message,
      defaultPrompt: shownDialog.defaultPrompt,
    };
    control.send(JSON.stringify({ t: 'dialog', dialog }));
  };
  const sendTabs = () => {
    if (control?.readyState === 'open') control.send(JSON.stringify({ t: 'tabs', tabs: shownTabs }));
  };
  let shownWidget: PageWidget | null = null;
  const sendWidget = () => {
    if (control?.readyState === 'open') control.send(JSON.stringify({ t: 'widget', widget: shownWidget }));
  };
  /** This viewer as a party to the control lease (a view-only one never drives). */
  const me: ControlParty = { kind: 'person', viewerId };
  let lease = freeLease(0);
  let rules: ControlRules = { defaultHolder: 'agent', idleReleaseMs: 15_000 };
  /** Input while nobody drives takes the lease: asked once until the session answers. */
  let askedToDrive = false;
  let activeSaidAt = 0;
  let refusalSaidAt = 0;
  const sendControl = (refused?: string) => {
    if (control?.readyState !== 'open') return;
    const who = (party: ControlParty | null) =>
      party === null ? null : sameParty(party, me) ? 'you' : party.kind;
    control.send(
      JSON.stringify({
        t: 'control',
        holder: who(lease.holder),
        how: lease.how,
        since: new Date(lease.since).toISOString(),
        requestedBy: who(lease.requested?.by ?? null),
        defaultHolder: rules.defaultHolder,
        ...(refused ? { refused } : {}),
      }),
    );
  };
  /** Whether this viewer's input may reach the page now; says why not (at most once a second). */
  const mayDrive = (): boolean => {
    const refused = driveRefusal(lease, me);
    const now = Date.now();
    if (refused) {
      if (now - refusalSaidAt >= 1000) {
        refusalSaidAt = now;
        sendControl(refused);
      }
      return false;
    }
    if (!lease.holder) {
      if (!askedToDrive) sendBack({ type: 'control.take', party: me, how: 'input' });
      askedToDrive = true;
    } else if (now - activeSaidAt >= 1000) {
      activeSaidAt = now;
      sendBack({ type: 'control.active', party: me });
    }
    return true;
  };
  const channelSub = peer.pc.onDataChannel.subscribe((channel) => {
    if (channel.label !== 'control') return;
    channel.stateChanged.subscribe((state) => {
      if (state === 'closed') left(); // our player closes it only by going away
    });
    if (peer.scope !== 'control') {
      // Said once, so a view-only player can show why its input does nothing.
      channel.stateChanged.subscribe((state) => {
        if (state === 'open') channel.send(JSON.stringify({ t: 'refused', reason: 'view-only token' }));
      });
      if (channel.readyState === 'open')
        channel.send(JSON.stringify({ t: 'refused', reason: 'view-only token' }));
      channel.onMessage.subscribe(() => deps.metrics.controlInputs.inc({ outcome: 'refused' }));
      return;
    }
    control = channel;
    // Not from inside the channel's opening: werift queues its DCEP acknowledgement after whatever is
    // sent there, and Chromium then drops every later message on the channel (seen: the first dialog
    // arrived, its "gone" and the next dialog never did).
    const sendSoon = () =>
      setTimeout(() => {
        sendDialog();
        sendTabs();
        sendControl();
        if (shownWidget) sendWidget();
      }, 0);
    channel.stateChanged.subscribe((state) => {
      if (state === 'open') sendSoon();
    });
    sendSoon();
    const { controlInputs } = deps.metrics;
    const { inputMessagesPerSecond, inputTextBytesPerSecond } = deps.config.limits;
    const budget = new InputBudget(inputMessagesPerSecond, inputTextBytesPerSecond);
    channel.onMessage.subscribe((data) => {
      const message = parseControlMessage(data);
      if (!message) {
        controlInputs.inc({ outcome: 'malformed' });
        return;
      }
      if (message.t === 'control') {
        // The session decides; a refusal the viewer can see at once is said at once.
        const refused = message.op === 'release' ? undefined : takeRefusal(lease, me, rules, Date.now());
        if (message.op === 'take' && refused) sendControl(refused);
        else if (message.op === 'release') sendBack({ type: 'control.release', party: me });
        else if (message.op === 'take') sendBack({ type: 'control.take', party: me, how: 'take' });
        else sendBack({ type: 'control.request', party: me });
        return;
      }
      if (!mayDrive()) {
        controlInputs.inc({ outcome: 'refused' });
        return;
      }
      if (message.t === 'widget') {
        // The session decides (the widget may be gone); the page gets the value, not input events.
        sendBack({ type: 'widget.answer', id: message.id, value: message.value });
        controlInputs.inc({ outcome: 'applied' });
        return;
      }
      if (message.t === 'tab') {
        // The session decides (the tab may be gone, or the last one); not page input.
        sendBack(
          message.op === 'activate'
            ? { type: 'tab.activate', tabId: message.id }
            : { type: 'tab.close', tabId: message.id },
        );
        controlInputs.inc({ outcome: 'applied' });
        return;
      }
      if (message.t === 'dialog') {
        // The session decides (its dialog may be gone); an answer is not page input.
        sendBack({ type: 'dialog.answer', accept: message.accept, promptText: message.promptText });
        controlInputs.inc({ outcome: 'applied' });
        return;
      }
      const textBytes = message.t === 'text' ? Buffer.byteLength(message.text) : 0;
      if (!budget.take(textBytes) || !input$.apply(message)) {
        controlInputs.inc({ outcome: 'dropped' });
        return;
      }
      controlInputs.inc({ outcome: 'applied' });
    });
  });
  deps.log.debug({ sessionId: page.sessionId, viewerId, scope: peer.scope }, 'viewer joined');
  const stop = () => {
    channelSub.unSubscribe();
    clearTimeout(connectTimer);
    clearInterval(checkTimer);
    rtcpSub?.unSubscribe();
    stateSub.unSubscribe();
    pliSub?.unSubscribe();
    adaptation.stop();
    layers.leave();
    page.audio.remove(viewerId);
    void peer.close();
    deps.log.debug({ sessionId: page.sessionId, viewerId }, 'viewer left');
  };
  return {
    stop,
    usePage: (next: SessionPage) => input$.usePage(next),
    /**
     * A network change: the viewer's reports stop until the new path is checked, so it gets a fresh
     * silence allowance and a fresh connect limit from now; rejoining the fan-out waits for a keyframe.
     */
    restartIce: async (credentials: { ufrag: string; pwd: string }) => {
      const fragment = await peer.restartIce(credentials).catch((error: Error) => {
        deps.metrics.iceRestarts.inc({ outcome: 'failed' });
        throw error;
      });
      deps.metrics.iceRestarts.inc({ outcome: 'done' });
      if (lastRtcpAt > 0) lastRtcpAt = Date.now();
      clearTimeout(connectTimer);
      connectTimer = setTimeout(() => {
        if (peer.pc.connectionState !== 'connected') left();
      }, CONNECT_LIMIT_MS);
      deps.log.debug({ sessionId: page.sessionId, viewerId }, 'viewer restarted ICE');
      return { fragment, etag: peer.etag };
    },
    /** A controlling viewer is shown the dialog the page waits on (null: none now). */
    showDialog: (next: PageDialog | null) => {
      shownDialog = next;
      sendDialog();
    },
    showTabs: (next: TabSummary[]) => {
      shownTabs = next;
      sendTabs();
    },
    /** A controlling viewer draws the menu or picker the page opened (null: none now). */
    showWidget: (next: PageWidget | null) => {
      shownWidget = next;
      sendWidget();
    },
    /** Who drives: gates this viewer's input, and its control bar shows it. */
    showControl: (next: ControlLease, nextRules: ControlRules) => {
      lease = next;
      rules = nextRules;
      askedToDrive = false;
      sendControl();
    },
  };
}
