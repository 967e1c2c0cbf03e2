import type { MintedViewerToken, SessionView } from './results.js';

/** A session's own URLs under a base (REST's per request, NATS' this node's address). */
export function sessionLinks(base: string, id: string) {
  const self = `${base}/api/sessions/${id}`;
  // The CDP endpoint is a WebSocket on the same node: ws:// under http, wss:// under https.
  return { self, whep: `${self}/whep`, view: `${self}/view`, cdp: `${self.replace(/^http/, 'ws')}/cdp` };
}

export const withLinks = (base: string, view: SessionView) => ({
  ...view,
  links: sessionLinks(base, view.id),
});

/** A viewer token with the viewer page that uses it (the token in the fragment: never sent to servers). */
export const withViewUrl = (base: string, minted: MintedViewerToken) => ({
  ...minted,
  viewUrl: `${sessionLinks(base, minted.sessionId).view}#token=${minted.token}`,
});
