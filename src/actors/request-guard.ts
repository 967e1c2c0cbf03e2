import type { Browser, CDPSession, Protocol } from 'puppeteer-core';
import type { UrlPolicy } from '../access/url-policy.js';

/** Refusals kept per frame for `navigate` to name (bounded: frames come and go). */
const MAX_REMEMBERED = 512;

/**
 * The URL policy inside Chromium, for every request of every target of one browser: CDP `Fetch`
 * on the browser's own session pauses each request before it leaves (pages, iframes, popups and
 * `target=_blank` tabs from their first request, workers, each redirect hop, subresources) and
 * castpool decides: documents get the whole policy (schemes, host lists, private addresses),
 * subresources the address checks (denied hosts, private/loopback/link-local/metadata addresses).
 * A refused request fails as ERR_BLOCKED_BY_CLIENT. Not covered: WebSocket and WebRTC traffic
 * (CDP Fetch does not see them), and DNS rebinding between castpool's lookup and Chromium's.
 */
export class RequestGuard {
  private readonly refusals = new Map<string, { url: string; reason: string }>();

  private constructor(private readonly session: CDPSession) {}

  /** Attaches to `browser` when the policy has anything to check inside pages; else undefined. */
  static async attach(browser: Browser, urls: UrlPolicy): Promise<RequestGuard | undefined> {
    if (!urls.watchesRequests) return undefined;
    const session = await browser.target().createCDPSession();
    const guard = new RequestGuard(session);
    session.on('Fetch.requestPaused', (event) => guard.decide(event, urls));
    await session.send('Fetch.enable', { patterns: [{ urlPattern: '*', requestStage: 'Request' }] });
    return guard;
  }

  /** The last request refused in this frame (a page's main frame id is its target id). */
  refusalIn(frameId: string): { url: string; reason: string } | undefined {
    return this.refusals.get(frameId);
  }

  forget(frameId: string): void {
    this.refusals.delete(frameId);
  }

  private decide(event: Protocol.Fetch.RequestPausedEvent, urls: UrlPolicy): void {
    const { requestId, request, resourceType, frameId } = event;
    let url: URL | undefined;
    try {
      url = new URL(request.url);
    } catch {
      url = undefined;
    }
    const verdict = !url
      ? Promise.resolve('malformed URL')
      : resourceType === 'Document'
        ? urls.refusal(url)
        : urls.subresourceRefusal(url);
    verdict
      .then((reason) => {
        if (!reason) return this.session.send('Fetch.continueRequest', { requestId });
        if (resourceType === 'Document') {
          if (this.refusals.size >= MAX_REMEMBERED) this.refusals.clear();
          this.refusals.set(frameId, { url: request.url, reason });
        }
        return this.session.send('Fetch.failRequest', { requestId, errorReason: 'BlockedByClient' });
      })
      .catch(() => {
        // the target went away while its request was paused
      });
  }
}
