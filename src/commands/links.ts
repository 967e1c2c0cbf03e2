import type { MintedViewerToken, SessionView } from './results.js';

/** A session's own URLs under a base (REST's per request, NATS' this node's address). */
export function sessionLinks(base: string, id: string) {
  const self = `${base}/api/sessions/${id}`;
  // The CDP endpoint is a WebSocket on the same node: ws:// under http, wss:// under https.
  return {
    self,
    whep: `${self}/whep`,
    view: `${self}/view`,
    cdp: `${self.replace(/^http/, 'ws')}/cdp`,
    devtools: devtoolsLink(self),
  };
}

/**
 * Chrome's own DevTools front end (bundled in every Chrome: nothing is downloaded) on the session's
 * page endpoint: a person pastes it into Chrome's address bar (pages cannot open devtools:// links).
 * `token`: an automate or API token, carried in the endpoint's query.
 */
export function devtoolsLink(self: string, token?: string): string {
  const secure = self.startsWith('https:');
  const endpoint = `${self.replace(/^https?:\/\//, '')}/devtools${token ? `?token=${token}` : ''}`;
  return `devtools://devtools/bundled/devtools_app.html?${secure ? 'wss' : 'ws'}=${encodeURIComponent(endpoint)}`;
}

export const withLinks = (base: string, view: SessionView) => ({
  ...view,
  links: sessionLinks(base, view.id),
});

/** A viewer token with the viewer page that uses it (the token in the fragment: never sent to servers). */
export const withViewUrl = (base: string, minted: MintedViewerToken) => {
  const links = sessionLinks(base, minted.sessionId);
  // An automate token opens the CDP endpoints; the others, the viewer page.
  return minted.scope === 'automate'
    ? { ...minted, viewUrl: '', devtoolsUrl: devtoolsLink(links.self, minted.token) }
    : { ...minted, viewUrl: `${links.view}#token=${minted.token}` };
};
