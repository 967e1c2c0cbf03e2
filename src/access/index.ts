import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import { CastpoolError } from '../errors.js';
import { type Principal, TokenBook, type TokenScope, type ViewerScope } from './tokens.js';
import { UrlPolicy } from './url-policy.js';

export type { Principal, TokenScope, ViewerScope } from './tokens.js';
export { bearerOf } from './tokens.js';

/** What a caller may do: API tokens, viewer tokens, where sessions may go, how fast one may create. */
export class Access {
  readonly tokens: TokenBook;
  readonly urls: UrlPolicy;
  private readonly creates?: RateLimiterMemory;

  constructor(readonly config: Config) {
    const { auth } = config;
    const tokens = [...auth.tokens];
    if (config.apiToken) tokens.unshift({ name: 'default', token: config.apiToken });
    this.tokens = new TokenBook(tokens, auth.viewerTokenSecret);
    this.urls = new UrlPolicy({ allowedSchemes: config.allowedSchemes, ...config.urlPolicy });
    const { createsPerMinute } = config.rateLimit;
    if (createsPerMinute > 0)
      this.creates = new RateLimiterMemory({ points: createsPerMinute, duration: 60 });
  }

  /** The caller of an operator command (REST or NATS): an API token when tokens are configured. */
  operator(bearer: string | undefined): Principal {
    if (!this.tokens.required) return { kind: 'anonymous' };
    if (!bearer) throw new CastpoolError('unauthorized', 'missing bearer token');
    const principal = this.tokens.principal(bearer);
    if (principal.kind !== 'api')
      throw new CastpoolError('forbidden', "a viewer token only opens its session's viewer");
    return principal;
  }

  /** The caller of a WHEP request for `sessionId` and the scope it gets. */
  viewer(bearer: string | undefined, sessionId: string): ViewerScope {
    const principal = this.tokens.principal(bearer);
    if (principal.kind === 'api') return 'control';
    if (principal.kind === 'viewer') {
      if (principal.sessionId !== sessionId)
        throw new CastpoolError('forbidden', 'this viewer token is for another session');
      if (principal.scope === 'automate')
        throw new CastpoolError(
          'forbidden',
          "an automate token opens the session's CDP endpoint, not its viewer",
        );
      return principal.scope;
    }
    if (this.tokens.required) throw new CastpoolError('unauthorized', 'missing bearer token');
    return 'control';
  }

  /**
   * The caller of a session's control lease route: an API token (any party), or a `control` token
   * (a person at one of its viewers) or an `automate` token (the agent) for that session.
   */
  party(bearer: string | undefined, sessionId: string): Principal {
    const principal = this.tokens.principal(bearer);
    if (principal.kind === 'viewer') {
      if (principal.sessionId !== sessionId)
        throw new CastpoolError('forbidden', 'this session token is for another session');
      if (principal.scope === 'view') throw new CastpoolError('forbidden', 'a view token never drives');
      return principal;
    }
    if (principal.kind === 'anonymous' && this.tokens.required)
      throw new CastpoolError('unauthorized', 'missing bearer token');
    return principal;
  }

  /** The caller of a session's CDP endpoint: an API token, or an `automate` token for that session. */
  automation(token: string | undefined, sessionId: string): void {
    const principal = this.tokens.principal(token);
    if (principal.kind === 'api') return;
    if (principal.kind === 'viewer') {
      if (principal.sessionId !== sessionId)
        throw new CastpoolError('forbidden', 'this session token is for another session');
      if (principal.scope !== 'automate')
        throw new CastpoolError(
          'forbidden',
          `a ${principal.scope} token opens the viewer; the CDP endpoint needs scope automate`,
        );
      return;
    }
    if (this.tokens.required)
      throw new CastpoolError('unauthorized', 'missing token (bearer header or token query parameter)');
  }

  /** A viewer token for one session; 400 when the lifetime asked for exceeds the configured maximum. */
  mintViewerToken(
    sessionId: string,
    scope: TokenScope = 'view',
    ttlSeconds = this.config.auth.viewerTokenTtlSeconds,
  ): { token: string; sessionId: string; scope: TokenScope; expiresAt: string } {
    const max = this.config.auth.maxViewerTokenTtlSeconds;
    if (ttlSeconds > max)
      throw new CastpoolError('bad_request', `ttlSeconds ${ttlSeconds} exceeds the maximum of ${max}`);
    const expiresAt = Date.now() + ttlSeconds * 1000;
    return {
      token: this.tokens.mintViewerToken(sessionId, scope, expiresAt),
      sessionId,
      scope,
      expiresAt: new Date(Math.floor(expiresAt / 1000) * 1000).toISOString(),
    };
  }

  /** Counts a session creation against the caller's rate; 429 with Retry-After past it. */
  async admitCreate(principal: Principal, fallbackKey: string): Promise<void> {
    if (!this.creates) return;
    const key = principal.kind === 'api' ? `token:${principal.name}` : `client:${fallbackKey}`;
    try {
      await this.creates.consume(key);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      const seconds = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      throw new CastpoolError(
        'rate_limited',
        `too many sessions created by ${key} (limit ${this.config.rateLimit.createsPerMinute}/min); retry in ${seconds} s`,
        { retryable: true, retryAfterSeconds: seconds },
      );
    }
  }

  /** Refuses a URL a session may not open (scheme, hosts, private addresses); the normalised URL. */
  /**
   * A session's proxy server, under the URL policy like a page's host (the browser connects to it,
   * whatever the pages ask for); 400 `url_refused` naming why.
   */
  async checkProxy(server: string): Promise<string> {
    const url = new URL(server);
    const refusal = await this.urls.refusal(new URL(`http://${url.host}/`));
    if (refusal) throw new CastpoolError('url_refused', `proxy refused: ${refusal}`);
    return `${url.protocol}//${url.host}`;
  }

  async checkUrl(raw: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new CastpoolError('bad_request', `url "${raw}" is not a valid absolute URL`);
    }
    const refusal = await this.urls.refusal(url);
    if (refusal) throw new CastpoolError('url_refused', `url refused: ${refusal}`);
    return url.href;
  }
}
