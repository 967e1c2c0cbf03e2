/**
 * What a session's CDP client may send, decided per message (deny by default). The client sees one
 * browser holding only its session's tabs: browser-level commands are answered by castpool's virtual
 * browser (or refused), and commands on its tabs pass when their domain works inside the tab and
 * cannot reach the browser, another session, or castpool's own machinery in the tab.
 */

/** Domains whose commands act inside the target they are sent to. */
const TAB_DOMAINS = new Set([
  'Accessibility',
  'Animation',
  'Audits',
  'CacheStorage',
  'Console',
  'CSS',
  'Debugger',
  'DOM',
  'DOMDebugger',
  'DOMSnapshot',
  'DOMStorage',
  'Emulation',
  'EventBreakpoints',
  'Fetch',
  'HeapProfiler',
  'IndexedDB',
  'Input',
  'Inspector',
  'IO',
  'LayerTree',
  'Log',
  'Media',
  'Network',
  'Overlay',
  'Page',
  'Performance',
  'PerformanceTimeline',
  'Profiler',
  'Runtime',
  'Schema',
  'ServiceWorker',
  'WebAudio',
]);

/** Commands of those domains that reach past the tab, or take castpool's place in it. */
const TAB_REFUSALS: Record<string, string> = {
  'Page.crash': 'crashing the renderer would take the session down',
  'Page.setDownloadBehavior': "the session's downloads are castpool's (GET /api/sessions/:id/downloads)",
  'Network.getAllCookies': "it returns every context's cookies; use Network.getCookies",
  'Network.clearBrowserCookies': "it clears every context's cookies; use Network.deleteCookies",
  'Network.clearBrowserCache': "it clears the whole browser's cache",
  'Input.setIgnoreInputEvents': "it would shut out the session's people, who drive through the same page",
};

/**
 * Commands that act as a user (input, leaving the page, answering what the page asks, tabs): they
 * need the control lease. Reading the page (DOM, Runtime, screenshots) does not; scripts a client
 * evaluates are its own business and are not gated (docs: "The control lease").
 */
const USER_ACTIONS = new Set([
  'Input.dispatchDragEvent',
  'Input.dispatchKeyEvent',
  'Input.dispatchMouseEvent',
  'Input.dispatchTouchEvent',
  'Input.emulateTouchFromMouseEvent',
  'Input.imeSetComposition',
  'Input.insertText',
  'Input.synthesizePinchGesture',
  'Input.synthesizeScrollGesture',
  'Input.synthesizeTapGesture',
  'Page.navigate',
  'Page.reload',
  'Page.navigateToHistoryEntry',
  'Page.handleJavaScriptDialog',
  'Page.bringToFront',
  'Page.close',
  'DOM.setFileInputFiles',
  'Target.createTarget',
  'Target.closeTarget',
  'Target.activateTarget',
]);

/** Whether a command acts as a user, and so needs the control lease. */
export function actsAsUser(method: string): boolean {
  return USER_ACTIONS.has(method);
}

/** castpool's own domain on the session endpoint: the control lease (browser level). */
export const CASTPOOL_COMMANDS = new Set([
  'Castpool.getControl',
  'Castpool.takeControl',
  'Castpool.releaseControl',
  'Castpool.requestControl',
]);

/** Target commands that stay inside a tab (its own frames and workers). */
const TAB_TARGET_COMMANDS = new Set([
  'Target.setAutoAttach',
  'Target.detachFromTarget',
  'Target.getTargetInfo',
]);

/** Names of castpool's isolated worlds and bindings in a tab: a client neither sees nor joins them. */
export const isCastpoolWorld = (name: unknown): boolean =>
  typeof name === 'string' && name.toLowerCase().startsWith('castpool');

/** Execution contexts of castpool's worlds in a tab, as seen on the client's session of it. */
export interface HiddenContexts {
  ids: ReadonlySet<number>;
  uniqueIds: ReadonlySet<string>;
}

export type TabVerdict =
  /** Sent on to the tab as it is. */
  | { kind: 'pass' }
  /** Answered by castpool's virtual browser (Target commands that concern the session's tabs). */
  | { kind: 'browser' }
  | { kind: 'refuse'; message: string };

const refuse = (method: string, why: string): TabVerdict => ({
  kind: 'refuse',
  message: `${method} is not available through castpool's session endpoint: ${why}`,
});

/** A command a client sends to one of its session's tabs (or a frame or worker in it). */
export function tabVerdict(
  method: string,
  params: Record<string, unknown>,
  hidden: HiddenContexts,
): TabVerdict {
  const domain = method.slice(0, method.indexOf('.'));
  if (domain === 'Target') return TAB_TARGET_COMMANDS.has(method) ? { kind: 'pass' } : { kind: 'browser' };
  if (domain === 'Castpool') return { kind: 'browser' };
  if (!TAB_DOMAINS.has(domain))
    return refuse(method, `the ${domain || 'unnamed'} domain reaches past the session's tabs`);
  const why = TAB_REFUSALS[method];
  if (why !== undefined) return refuse(method, why);
  if (
    (method === 'Page.createIsolatedWorld' && isCastpoolWorld(params.worldName)) ||
    (method === 'Runtime.addBinding' &&
      (isCastpoolWorld(params.executionContextName) || isCastpoolWorld(params.name)))
  )
    return refuse(method, 'names starting with "castpool" are reserved for castpool');
  for (const key of ['contextId', 'executionContextId'] as const) {
    const id = params[key];
    if (typeof id === 'number' && hidden.ids.has(id)) return refuse(method, `no execution context ${id}`);
  }
  const unique = params.uniqueContextId;
  if (typeof unique === 'string' && hidden.uniqueIds.has(unique))
    return refuse(method, `no execution context ${unique}`);
  return { kind: 'pass' };
}

/** Browser-level commands and how castpool's virtual browser takes them. */
export type BrowserCommand =
  | 'Browser.getVersion'
  | 'Target.getBrowserContexts'
  | 'Target.setDiscoverTargets'
  | 'Target.setAutoAttach'
  | 'Target.getTargets'
  | 'Target.getTargetInfo'
  | 'Target.attachToTarget'
  | 'Target.detachFromTarget'
  | 'Target.createTarget'
  | 'Target.closeTarget'
  | 'Target.activateTarget'
  | 'Browser.setDownloadBehavior'
  | 'Castpool.getControl'
  | 'Castpool.takeControl'
  | 'Castpool.releaseControl'
  | 'Castpool.requestControl';

const BROWSER_COMMANDS = new Set<string>([
  ...CASTPOOL_COMMANDS,
  'Browser.getVersion',
  'Target.getBrowserContexts',
  'Target.setDiscoverTargets',
  'Target.setAutoAttach',
  'Target.getTargets',
  'Target.getTargetInfo',
  'Target.attachToTarget',
  'Target.detachFromTarget',
  'Target.createTarget',
  'Target.closeTarget',
  'Target.activateTarget',
  'Browser.setDownloadBehavior',
]);

/** Why a browser-level command is refused, in words a client's log makes sense of. */
const BROWSER_REFUSALS: Record<string, string> = {
  'Browser.close': 'castpool owns the browser; disconnect, or DELETE /api/sessions/:id',
  'Browser.crash': 'castpool owns the browser',
  'Browser.crashGpuProcess': 'castpool owns the browser',
  'Target.createBrowserContext': 'a session is one browser context; start another session for another',
  'Target.disposeBrowserContext': 'a session is one browser context',
  'Browser.grantPermissions': 'permissions are granted when the session is created (permissions)',
  'Browser.resetPermissions': 'permissions are granted when the session is created (permissions)',
  'Browser.setPermission': 'permissions are granted when the session is created (permissions)',
};

export function isBrowserCommand(method: string): method is BrowserCommand {
  return BROWSER_COMMANDS.has(method);
}

/** The error for a browser-level command castpool does not take. */
export function browserRefusal(method: string): string {
  const why = BROWSER_REFUSALS[method] ?? "it reaches past the session's tabs";
  return `${method} is not available through castpool's session endpoint: ${why}`;
}
