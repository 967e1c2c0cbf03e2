import type { CDPSession, Protocol } from 'puppeteer-core';
import type { SiteCredentials } from '../access/site-credentials.js';
import type { ActorDeps } from './deps.js';

/**
 * HTTP sign-in challenges (401 with `WWW-Authenticate`) of a page's documents, answered with the
 * session's credential for exactly the challenging origin, once per request (a wrong password then
 * shows the site's 401, no loop); any other challenge is declined, as a browser with nobody at the
 * prompt would. Set up while the page opens, before its first load; only documents are paused for it
 * (one round trip per load), and only in sessions that have credentials.
 */
export async function answerSignIns(
  deps: ActorDeps,
  credentials: SiteCredentials,
  sessionId: string,
  cdp: CDPSession,
): Promise<void> {
  if (!credentials.has(sessionId)) return;
  const answered = new Set<string>();
  cdp.on('Fetch.requestPaused', (event: Protocol.Fetch.RequestPausedEvent) => {
    cdp.send('Fetch.continueRequest', { requestId: event.requestId }).catch(() => {});
  });
  cdp.on('Fetch.authRequired', (event: Protocol.Fetch.AuthRequiredEvent) => {
    const { requestId, authChallenge } = event;
    const credential = answered.has(requestId)
      ? undefined
      : authChallenge.source === 'Proxy'
        ? credentials.proxy(sessionId)
        : credentials.find(sessionId, authChallenge.origin);
    if (answered.size > 1024) answered.clear();
    answered.add(requestId);
    cdp
      .send('Fetch.continueWithAuth', {
        requestId,
        authChallengeResponse: credential
          ? { response: 'ProvideCredentials', username: credential.username, password: credential.password }
          : { response: 'CancelAuth' },
      })
      .catch(() => {});
    deps.log.info(
      {
        sessionId,
        origin: authChallenge.origin,
        source: authChallenge.source,
        answered: credential !== undefined,
      },
      'sign-in challenge',
    );
  });
  await cdp.send('Fetch.enable', {
    handleAuthRequests: true,
    patterns: [{ urlPattern: '*', resourceType: 'Document', requestStage: 'Request' }],
  });
}
