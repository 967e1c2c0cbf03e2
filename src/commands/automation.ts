import type { SessionPage } from '../actors/page.js';
import type { AutomatedSession, AutomatedTab } from '../automation/automated-session.js';
import { CastpoolError } from '../errors.js';
import {
  type ControlParty,
  controlView,
  driveRefusal,
  releaseRefusal,
  sameParty,
  takeRefusal,
} from '../machines/control-lease.js';
import { type SessionActorRef, sessionStateName } from '../machines/session.machine.js';
import type { Castpool } from '../system.js';
import { liveSession, sessionEntry } from './lookup.js';
import type { SessionCommands } from './sessions.js';

const AGENT: ControlParty = { kind: 'agent' };
/** The agent says it still drives at most this often (an `input` hold lapses without it). */
const ACTIVE_EVERY_MS = 1000;

/** Chromium's product and user agent, asked once per browser (they do not change while it runs). */
const versions = new WeakMap<object, Promise<{ product: string; userAgent: string }>>();

/**
 * CDP clients of this node's sessions: `attach` wakes a hibernated session, counts the client on it
 * (a driven session neither freezes nor hibernates for idleness) and hands the endpoint what it may
 * reach: the session's tabs, and tab operations sent as events like the REST routes send them.
 */
export class Automation {
  constructor(
    private readonly castpool: Castpool,
    private readonly sessions: SessionCommands,
  ) {}

  async attach(id: string): Promise<AutomatedSession> {
    const { ref } = sessionEntry(this.castpool.pool, id);
    const snapshot = ref.getSnapshot();
    if (snapshot.hasTag('asleep')) await this.sessions.resume({ id });
    liveSession(this.castpool.pool, id);
    ref.send({ type: 'automation.attached' });
    let detached = false;
    let activeSaidAt = 0;
    const urls = this.castpool.access.urls;
    const tabIdOf = (targetId: string) => tabsOf(ref).find((tab) => tab.targetId === targetId)?.id;
    return {
      sessionId: id,
      tabs: () => (ref.getSnapshot().hasTag('live') ? tabsOf(ref) : []),
      openTab: (url) => {
        let parsed: URL;
        try {
          parsed = new URL(url);
        } catch {
          return `"${url.slice(0, 200)}" is not a URL`;
        }
        // A blank tab is what clients open first (puppeteer's newPage), whatever the schemes allowed.
        const refused = parsed.href === 'about:blank' ? undefined : urls.refusalByName(parsed);
        if (refused) return `url refused by castpool's URL policy: ${refused}`;
        const { tabs, maxTabs } = ref.getSnapshot().context;
        if (tabs.length >= maxTabs) return `the session has ${maxTabs} tabs, its limit`;
        ref.send({ type: 'tab.open', url: parsed.href });
        return undefined;
      },
      closeTab: (targetId) => {
        const tabId = tabIdOf(targetId);
        if (!tabId) return 'not a tab of this session';
        if (ref.getSnapshot().context.tabs.length === 1)
          return "the session's last tab stays open; delete the session to close it";
        ref.send({ type: 'tab.close', tabId });
        return undefined;
      },
      activateTab: (targetId) => {
        const tabId = tabIdOf(targetId);
        if (!tabId) return 'not a tab of this session';
        ref.send({ type: 'tab.activate', tabId });
        return undefined;
      },
      onChange: (listener) => {
        const subscription = ref.subscribe({ next: listener, complete: listener, error: listener });
        return () => subscription.unsubscribe();
      },
      ended: () => endedReason(ref),
      control: () => {
        const { control, controlRules } = ref.getSnapshot().context;
        return { ...controlView(control, controlRules), you: sameParty(control.holder, AGENT) };
      },
      drive: () => {
        const { control } = ref.getSnapshot().context;
        const refused = driveRefusal(control, AGENT);
        if (refused)
          return `${refused}; the agent's input is refused until it is released (Castpool.getControl tells who and since when)`;
        const now = Date.now();
        if (!control.holder) ref.send({ type: 'control.take', party: AGENT, how: 'input' });
        else if (now - activeSaidAt >= ACTIVE_EVERY_MS) {
          activeSaidAt = now;
          ref.send({ type: 'control.active', party: AGENT });
        }
        return undefined;
      },
      controlAction: (action) => {
        const { context } = ref.getSnapshot();
        if (action === 'release') {
          const refused = releaseRefusal(context.control, AGENT);
          if (refused) return refused;
          ref.send({ type: 'control.release', party: AGENT });
          return undefined;
        }
        if (action === 'take') {
          const refused = takeRefusal(context.control, AGENT, context.controlRules, context.now());
          if (refused) return refused;
          ref.send({ type: 'control.take', party: AGENT, how: 'take' });
          return undefined;
        }
        ref.send({ type: 'control.request', party: AGENT });
        return undefined;
      },
      browserVersion: () => {
        const page = ref.getSnapshot().context.page as SessionPage | undefined;
        if (!page) return Promise.reject(new CastpoolError('conflict', `session ${id} is not live`));
        const browser = page.context.browser();
        let version = versions.get(browser);
        if (!version) {
          version = Promise.all([browser.version(), browser.userAgent()]).then(([product, userAgent]) => ({
            product,
            userAgent,
          }));
          versions.set(browser, version);
        }
        return version;
      },
      detach: () => {
        if (detached) return;
        detached = true;
        if (ref.getSnapshot().status === 'active') ref.send({ type: 'automation.detached' });
      },
    };
  }
}

/** The session's tabs as a CDP client sees them. */
function tabsOf(ref: SessionActorRef): AutomatedTab[] {
  const { context } = ref.getSnapshot();
  return context.tabs.map((tab) => {
    const page = tab.page as SessionPage;
    return {
      id: tab.id,
      targetId: page.frameId,
      page: page.page,
      url: tab.url,
      title: tab.title,
      browserContextId: (page.context as unknown as { id?: string }).id ?? '',
      active: tab.page === context.page,
    };
  });
}

/** Why a session a client drives is no longer live (its client is closed with this), or undefined. */
function endedReason(ref: SessionActorRef): string | undefined {
  const snapshot = ref.getSnapshot();
  if (snapshot.status !== 'active') return 'was deleted';
  if (snapshot.hasTag('live')) return undefined;
  const state = sessionStateName(snapshot.value);
  if (state === 'closing' || state === 'closed') return 'was deleted';
  if (state === 'restarting' || state === 'launching')
    return 'is restarting (its browser went away); reconnect';
  if (snapshot.hasTag('asleep')) return 'hibernated; reconnect to wake it';
  return `is ${state}`;
}
