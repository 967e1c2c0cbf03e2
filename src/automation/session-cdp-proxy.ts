import { type CDPSession, CDPSessionEvent } from 'puppeteer-core';
import type { AutomatedSession, AutomatedTab } from './automated-session.js';
import {
  actsAsUser,
  browserRefusal,
  type HiddenContexts,
  isBrowserCommand,
  isCastpoolWorld,
  tabVerdict,
} from './command-policy.js';

/** Where the proxy writes: the client's WebSocket. */
export interface ClientSocket {
  send(data: string): void;
  close(code: number, reason: string): void;
}

interface Logger {
  info(fields: object, message: string): void;
}

/** Commands one client may have in flight: a client must not queue unbounded work in the browser. */
const MAX_IN_FLIGHT = 256;
/** A protocol event's name (puppeteer's own notices on a session have no domain). */
const PROTOCOL_EVENT = /^[A-Za-z]+\.[A-Za-z]+$/;
/** How long Target.createTarget waits for its tab to open. */
const NEW_TAB_WAIT_MS = 10_000;
/** The id a client's browser target goes by (the session is its whole browser). */
const browserTargetId = (sessionId: string) => `castpool-session-${sessionId}`;

class CdpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Command {
  id: number;
  method: string;
  params: Record<string, unknown>;
  sessionId?: string;
}

/** A target session the client holds: one of its session's tabs, or a frame or worker inside one. */
interface ClientTarget {
  cdp: CDPSession;
  targetId: string;
  /** A tab (attached by the client at the browser level), not a frame or worker in one. */
  tab: boolean;
  hidden: { ids: Set<number>; uniqueIds: Set<string> } & HiddenContexts;
}

function parseCommand(message: unknown): Command | string {
  if (typeof message !== 'object' || message === null) return 'a command is a JSON object';
  const { id, method, params, sessionId } = message as Record<string, unknown>;
  if (!Number.isSafeInteger(id) || (id as number) < 0) return 'id must be a non-negative integer';
  if (typeof method !== 'string' || !/^[A-Za-z]+\.[A-Za-z]+$/.test(method))
    return 'method must be Domain.command';
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params)))
    return 'params must be an object';
  if (sessionId !== undefined && typeof sessionId !== 'string') return 'sessionId must be a string';
  return {
    id: id as number,
    method,
    params: (params ?? {}) as Record<string, unknown>,
    ...(sessionId === undefined ? {} : { sessionId }),
  };
}

/**
 * One CDP client of one session: it sees a browser whose only targets are the session's tabs. Its
 * commands to a tab go through a CDP session castpool opens on that tab (castpool's own stays its
 * own); browser-level commands are answered here from the session's state, or refused. What the
 * client does to the page is what viewers see; castpool's capture and liveness watch carry on.
 */
export class SessionCdpProxy {
  private readonly attached = new Map<string, ClientTarget>();
  /** What `Target.setDiscoverTargets` told the client of each tab last (url and title). */
  private readonly announced = new Map<string, string>();
  /** Tabs being attached now (auto-attach must not attach one twice; createTarget waits for it). */
  private readonly attaching = new Map<string, Promise<void>>();
  private discover = false;
  /** The client used castpool's domain: it hears `Castpool.controlChanged`. */
  private controlEvents = false;
  private shownControl = '';
  private autoAttach = false;
  private inFlight = 0;
  private closed = false;
  private readonly unsubscribe: () => void;

  /** Page mode: the CDP session on the inspected tab that messages without `sessionId` go to. */
  private rootSessionId: string | undefined;
  private readonly pageReady: Promise<void> | undefined;

  /**
   * `browser` (the `cdp` endpoint): the client sees a browser, as Puppeteer and Playwright expect.
   * `page` (the `devtools` endpoint): the client sees the session's active tab, as Chromium's
   * `/devtools/page/<id>` endpoint serves it to a DevTools front end.
   */
  constructor(
    private readonly socket: ClientSocket,
    private readonly session: AutomatedSession,
    private readonly log: Logger,
    readonly mode: 'browser' | 'page' = 'browser',
  ) {
    this.unsubscribe = session.onChange(() => this.follow());
    if (mode === 'page') {
      this.pageReady = this.attachRoot();
      this.pageReady.catch((error: Error) => this.close(1011, `castpool: ${error.message}`.slice(0, 120)));
    }
  }

  /** Page mode: a CDP session of the client's own on the tab the live view shows now. */
  private async attachRoot(): Promise<void> {
    const tabs = this.session.tabs();
    const tab = tabs.find((t) => t.active) ?? tabs[0];
    if (!tab) throw new Error('the session has no tab now');
    const cdp = await tab.page.createCDPSession();
    if (this.closed) {
      await cdp.detach().catch(() => {});
      return;
    }
    this.rootSessionId = cdp.id();
    this.hook(cdp.id(), cdp, tab.targetId, true);
  }

  /** A message from the client. */
  receive(text: string): void {
    if (this.closed) return;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.send({ id: 0, error: { code: -32700, message: 'Message must be valid JSON' } });
      return;
    }
    const command = parseCommand(message);
    if (typeof command === 'string') {
      const id = (message as { id?: unknown })?.id;
      this.send({ id: Number.isSafeInteger(id) ? id : 0, error: { code: -32600, message: command } });
      return;
    }
    const answer = (body: object) =>
      this.send({ id: command.id, ...body, ...(command.sessionId ? { sessionId: command.sessionId } : {}) });
    if (this.inFlight >= MAX_IN_FLIGHT) {
      answer({ error: { code: -32000, message: `too many commands in flight (limit ${MAX_IN_FLIGHT})` } });
      return;
    }
    this.inFlight++;
    const dispatched = this.pageReady
      ? this.pageReady.then(() =>
          this.dispatch({ ...command, sessionId: command.sessionId ?? this.rootSessionId }),
        )
      : this.dispatch(command);
    dispatched
      .then(
        (result) => answer({ result }),
        (error: Error & { code?: unknown; originalMessage?: string }) =>
          answer({
            error: {
              code:
                error instanceof CdpError ? error.code : typeof error.code === 'number' ? error.code : -32000,
              message: error.originalMessage ?? error.message,
            },
          }),
      )
      .finally(() => {
        this.inFlight--;
      });
  }

  /** The client left, or the session did: detach from the tabs, and let the session idle again. */
  close(code?: number, reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const target of this.attached.values()) if (target.tab) target.cdp.detach().catch(() => {});
    this.attached.clear();
    this.session.detach();
    if (code !== undefined) this.socket.close(code, reason ?? '');
  }

  private send(message: object): void {
    if (!this.closed) this.socket.send(JSON.stringify(message));
  }

  private async dispatch({ method, params, sessionId }: Command): Promise<object> {
    if (sessionId === undefined) return this.browserCommand(method, params);
    const target = this.attached.get(sessionId);
    if (!target) throw new CdpError(-32001, 'Session with given id not found.');
    const verdict = tabVerdict(method, params, target.hidden);
    if (verdict.kind === 'refuse') throw new CdpError(-32000, verdict.message);
    if (verdict.kind === 'browser') return this.browserCommand(method, params);
    this.mayAct(method);
    if (method === 'Page.close' && target.tab) {
      // A tab closes as the session's tab (the last one stays), not behind castpool's back.
      this.refuseIf(this.session.closeTab(target.targetId));
      return {};
    }
    return target.cdp.send(method as never, params as never) as Promise<object>;
  }

  /** A command that acts as a user needs the control lease (a person may hold it). */
  private mayAct(method: string): void {
    if (!actsAsUser(method)) return;
    const refused = this.session.drive();
    if (refused) throw new CdpError(-32000, `${method} refused: ${refused}`);
  }

  private refuseIf(reason: string | undefined): void {
    if (reason) throw new CdpError(-32000, reason);
  }

  private tab(targetId: unknown): AutomatedTab {
    const tab = this.session.tabs().find((t) => t.targetId === targetId);
    if (!tab) throw new CdpError(-32000, `No target with given id found (${String(targetId).slice(0, 64)})`);
    return tab;
  }

  private async browserCommand(method: string, params: Record<string, unknown>): Promise<object> {
    if (!isBrowserCommand(method)) throw new CdpError(-32000, browserRefusal(method));
    this.mayAct(method);
    switch (method) {
      case 'Castpool.getControl':
        this.controlEvents = true;
        return this.controlNow();
      case 'Castpool.takeControl':
      case 'Castpool.releaseControl':
      case 'Castpool.requestControl': {
        this.controlEvents = true;
        const action =
          method === 'Castpool.takeControl'
            ? 'take'
            : method === 'Castpool.releaseControl'
              ? 'release'
              : 'request';
        this.refuseIf(this.session.controlAction(action));
        return this.controlNow();
      }
      case 'Browser.getVersion': {
        const { product, userAgent } = await this.session.browserVersion();
        return { protocolVersion: '1.3', product, revision: '', userAgent, jsVersion: '' };
      }
      case 'Target.getBrowserContexts':
        // The session's context is the client's default one: it creates no other.
        return { browserContextIds: [] };
      case 'Target.setDiscoverTargets':
        this.discover = params.discover === true;
        this.announced.clear();
        if (this.discover) this.follow();
        return {};
      case 'Target.setAutoAttach':
        if (params.autoAttach === true && params.flatten !== true)
          throw new CdpError(-32000, "castpool's session endpoint speaks flat sessions only (flatten: true)");
        this.autoAttach = params.autoAttach === true;
        if (this.autoAttach)
          await Promise.all(this.session.tabs().map((tab) => this.attachOnce(tab).catch(() => undefined)));
        return {};
      case 'Target.getTargets':
        return { targetInfos: this.session.tabs().map((tab) => this.targetInfo(tab)) };
      case 'Target.getTargetInfo':
        if (params.targetId === undefined || params.targetId === browserTargetId(this.session.sessionId))
          return {
            targetInfo: {
              targetId: browserTargetId(this.session.sessionId),
              type: 'browser',
              title: '',
              url: '',
              attached: true,
              canAccessOpener: false,
            },
          };
        return { targetInfo: this.targetInfo(this.tab(params.targetId)) };
      case 'Target.attachToTarget': {
        if (params.flatten !== true)
          throw new CdpError(-32000, "castpool's session endpoint speaks flat sessions only (flatten: true)");
        return { sessionId: await this.attach(this.tab(params.targetId)) };
      }
      case 'Target.detachFromTarget': {
        const target = typeof params.sessionId === 'string' ? this.attached.get(params.sessionId) : undefined;
        if (!target?.tab) throw new CdpError(-32000, 'No session with given id');
        await target.cdp.detach().catch(() => {});
        return {};
      }
      case 'Target.createTarget': {
        const targetId = await this.openTab(params.url);
        // Chromium announces an auto-attached tab before it answers; Playwright counts on it.
        const tab = this.session.tabs().find((t) => t.targetId === targetId);
        if (this.autoAttach && tab) await this.attachOnce(tab).catch(() => undefined);
        return { targetId };
      }
      case 'Target.closeTarget':
        this.refuseIf(this.session.closeTab(this.tab(params.targetId).targetId));
        return { success: true };
      case 'Target.activateTarget':
        this.refuseIf(this.session.activateTab(this.tab(params.targetId).targetId));
        return {};
      case 'Browser.setDownloadBehavior':
        // The session keeps its downloads (GET /api/sessions/:id/downloads) whatever a client asks.
        return {};
    }
  }

  /** The lease as the agent sees it (what `Castpool.getControl` answers). */
  private controlNow() {
    const control = this.session.control();
    this.shownControl = JSON.stringify(control);
    return control;
  }

  private targetInfo(tab: AutomatedTab) {
    return {
      targetId: tab.targetId,
      type: 'page',
      title: tab.title,
      url: tab.url,
      attached: [...this.attached.values()].some((t) => t.tab && t.targetId === tab.targetId),
      canAccessOpener: false,
      browserContextId: tab.browserContextId,
    };
  }

  private async openTab(url: unknown): Promise<string> {
    const address = url === undefined || url === '' ? 'about:blank' : url;
    if (typeof address !== 'string' || address.length > 8192)
      throw new CdpError(-32602, 'url must be a string of at most 8192 characters');
    const before = new Set(this.session.tabs().map((tab) => tab.targetId));
    this.refuseIf(this.session.openTab(address));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new CdpError(-32000, `the new tab did not open within ${NEW_TAB_WAIT_MS / 1000} s`));
      }, NEW_TAB_WAIT_MS);
      const check = () => {
        const opened = this.session.tabs().find((tab) => !before.has(tab.targetId));
        const ended = this.session.ended();
        if (!opened && !ended) return;
        clearTimeout(timer);
        stop();
        if (opened) resolve(opened.targetId);
        else reject(new CdpError(-32000, `the session ${ended}`));
      };
      const stop = this.session.onChange(check);
      check();
    });
  }

  /** Follows the session: its end closes the client; its tabs are announced and attached as they come. */
  private follow(): void {
    if (this.closed) return;
    const ended = this.session.ended();
    if (ended) {
      this.log.info(
        { sessionId: this.session.sessionId, reason: ended },
        'CDP client closed: the session left',
      );
      // 1001 going away; the reason names why (a client reconnects after a restart).
      this.close(1001, `castpool: the session ${ended}`.slice(0, 120));
      return;
    }
    if (this.controlEvents) {
      const control = this.session.control();
      const shown = JSON.stringify(control);
      if (shown !== this.shownControl) {
        this.shownControl = shown;
        this.send({ method: 'Castpool.controlChanged', params: control });
      }
    }
    const tabs = this.session.tabs();
    if (this.discover) {
      for (const tab of tabs) {
        const seen = `${tab.url}\n${tab.title}`;
        const before = this.announced.get(tab.targetId);
        if (before === seen) continue;
        this.announced.set(tab.targetId, seen);
        this.send({
          method: before === undefined ? 'Target.targetCreated' : 'Target.targetInfoChanged',
          params: { targetInfo: this.targetInfo(tab) },
        });
      }
      for (const targetId of this.announced.keys())
        if (!tabs.some((tab) => tab.targetId === targetId)) {
          this.announced.delete(targetId);
          this.send({ method: 'Target.targetDestroyed', params: { targetId } });
        }
    }
    if (this.autoAttach) for (const tab of tabs) void this.attachOnce(tab).catch(() => undefined);
  }

  private attachOnce(tab: AutomatedTab): Promise<void> {
    const pending = this.attaching.get(tab.targetId);
    if (pending) return pending;
    if ([...this.attached.values()].some((t) => t.tab && t.targetId === tab.targetId))
      return Promise.resolve();
    const attaching = this.attach(tab)
      .then(() => undefined)
      .finally(() => this.attaching.delete(tab.targetId));
    this.attaching.set(tab.targetId, attaching);
    return attaching;
  }

  /** A CDP session of the client's own on a tab: announced as Chromium announces a flat session. */
  private async attach(tab: AutomatedTab): Promise<string> {
    const cdp = await tab.page.createCDPSession();
    if (this.closed) {
      await cdp.detach().catch(() => {});
      throw new CdpError(-32000, 'the client left');
    }
    const sessionId = cdp.id();
    this.hook(sessionId, cdp, tab.targetId, true);
    this.send({
      method: 'Target.attachedToTarget',
      params: {
        sessionId,
        targetInfo: { ...this.targetInfo(tab), attached: true },
        waitingForDebugger: false,
      },
    });
    return sessionId;
  }

  /** Relays a target session's events to the client, hiding castpool's worlds in it. */
  private hook(sessionId: string, cdp: CDPSession, targetId: string, tab: boolean): void {
    const hidden = { ids: new Set<number>(), uniqueIds: new Set<string>() };
    this.attached.set(sessionId, { cdp, targetId, tab, hidden });
    const emitter = cdp as unknown as {
      on(type: string, handler: (type: unknown, event: unknown) => void): void;
    };
    emitter.on('*', (type, event) => {
      // puppeteer's own notices (a symbol, or a word without a domain) are not protocol events.
      if (typeof type === 'symbol' && type.description === 'CDPSession.Disconnected') {
        this.attached.delete(sessionId);
        if (sessionId === this.rootSessionId) {
          this.close(1001, 'castpool: the inspected tab closed');
          return;
        }
        // Chromium tells the browser level a tab session ended; the client hears it from here.
        if (tab) this.send({ method: 'Target.detachedFromTarget', params: { sessionId, targetId } });
        return;
      }
      if (typeof type !== 'string' || !PROTOCOL_EVENT.test(type) || this.closed) return;
      const params = (event ?? {}) as Record<string, unknown>;
      if (type === 'Runtime.executionContextCreated') {
        const context = params.context as {
          id: number;
          uniqueId: string;
          name: string;
          auxData?: { name?: unknown };
        };
        if (isCastpoolWorld(context.name) || isCastpoolWorld(context.auxData?.name)) {
          hidden.ids.add(context.id);
          hidden.uniqueIds.add(context.uniqueId);
          return;
        }
      }
      if (type === 'Runtime.executionContextDestroyed' && hidden.ids.has(params.executionContextId as number))
        return;
      if (type === 'Runtime.bindingCalled' && isCastpoolWorld(params.name)) return;
      // Page mode: the inspected tab's events come without a session, as on Chromium's page endpoint.
      this.send({ method: type, params, ...(sessionId === this.rootSessionId ? {} : { sessionId }) });
    });
    // Frames and workers the client auto-attaches inside the tab: their events come on their own sessions.
    emitter.on(CDPSessionEvent.SessionAttached, (child) => {
      const session = child as CDPSession;
      this.hook(session.id(), session, '', false);
    });
  }
}
