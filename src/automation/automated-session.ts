import type { Page } from 'puppeteer-core';

type Party = { kind: 'person'; viewerId: string } | { kind: 'agent' };

/** What `Castpool.getControl` answers: the session view's `control`, and whether the agent holds it. */
export interface AgentControlView {
  holder: Party | null;
  how: 'take' | 'input' | 'default' | null;
  since: string;
  requestedBy: Party | null;
  defaultHolder: 'agent' | 'first';
  you: boolean;
}

/** One of the session's tabs as a CDP client reaches it. */
export interface AutomatedTab {
  /** castpool's name for the tab (tab-1, tab-2, …). */
  id: string;
  /** Chromium's target id of its page. */
  targetId: string;
  page: Page;
  url: string;
  title: string;
  /** Chromium's id of the session's browser context. */
  browserContextId: string;
  /** The tab the live view shows. */
  active: boolean;
}

/**
 * What a session's CDP endpoint needs of the session: its tabs, the tab operations clients may ask
 * for (sent to the session as events, like the REST routes do), and when it stops being live.
 */
export interface AutomatedSession {
  readonly sessionId: string;
  /** The session's tabs now, in the order they opened (empty once it is no longer live). */
  tabs(): AutomatedTab[];
  /** Opens a tab (it becomes the active one); a refusal's reason, or undefined when asked. */
  openTab(url: string): string | undefined;
  /** Closes a tab; a refusal's reason (the last tab, not a tab of this session), or undefined. */
  closeTab(targetId: string): string | undefined;
  /** Makes a tab the active one (the live view follows); a refusal's reason, or undefined. */
  activateTab(targetId: string): string | undefined;
  /** Called on every change of the session; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Why the session is no longer live (closed, hibernated, restarting), or undefined while it is. */
  ended(): string | undefined;
  /** Who drives the session now (the control lease), and whether it is this client's agent. */
  control(): AgentControlView;
  /**
   * Before a command that acts as a user: why the agent may not drive now (a person holds the
   * lease), or undefined (it holds it, or nobody does and now it does).
   */
  drive(): string | undefined;
  /** The agent takes, releases or asks for the lease; a refusal's reason, or undefined. */
  controlAction(action: 'take' | 'release' | 'request'): string | undefined;
  /** What Browser.getVersion answers. */
  browserVersion(): Promise<{ product: string; userAgent: string }>;
  /** The client left: the session may freeze or hibernate for idleness again. */
  detach(): void;
}
