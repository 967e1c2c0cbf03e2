import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { CastpoolError } from '../errors.js';

/** What a WHEP viewer may do: watch, or also drive the page with mouse, keyboard and resize. */
export type ViewerScope = 'view' | 'control';
/** What a session token opens: its viewer (view, control) or its CDP endpoint (automate). */
export type TokenScope = ViewerScope | 'automate';

/** Who a request speaks for: an API token (all rights) or a session token (one session, one scope). */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'api'; name: string }
  | { kind: 'viewer'; sessionId: string; scope: TokenScope; expiresAt: number };

const sameSecret = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);
const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');
/** Only the one spelling castpool mints: Node's decoder also takes padding, `+/` and stray bits. */
const canonical = (part: string) => b64url(Buffer.from(part, 'base64url')) === part;

/** `Authorization: Bearer <token>` → the token, or undefined. */
export function bearerOf(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/**
 * The API tokens a node accepts, and the viewer tokens it mints and checks. Viewer tokens are
 * `<payload>.<HMAC-SHA256>` (base64url), so every node of a fleet sharing the secret checks them
 * without a lookup.
 */
export class TokenBook {
  private readonly api: { name: string; token: Buffer }[];
  private readonly secret: Buffer;

  constructor(tokens: { name: string; token: string }[], viewerSecret: string) {
    this.api = tokens.map(({ name, token }) => ({ name, token: Buffer.from(token) }));
    // Nodes of one fleet share their API tokens, so a secret derived from them is shared too.
    const source = viewerSecret || tokens.map((t) => t.token).join('\n');
    this.secret = createHash('sha256').update(`castpool-viewer-tokens\n${source}`).digest();
  }

  /** True when requests must carry a token. */
  get required(): boolean {
    return this.api.length > 0;
  }

  /** The name of the API token given, or undefined. Every token is compared, in constant time each. */
  apiTokenName(token: string | undefined): string | undefined {
    if (!token) return undefined;
    const given = Buffer.from(token);
    let found: string | undefined;
    for (const entry of this.api) if (sameSecret(given, entry.token)) found = entry.name;
    return found;
  }

  /** A token the fleet's nodes use between themselves (the first API token). */
  get internalToken(): string | undefined {
    return this.api[0]?.token.toString();
  }

  mintViewerToken(sessionId: string, scope: TokenScope, expiresAt: number): string {
    const payload = b64url(JSON.stringify({ s: sessionId, c: scope, e: Math.floor(expiresAt / 1000) }));
    return `${payload}.${b64url(createHmac('sha256', this.secret).update(payload).digest())}`;
  }

  /** The viewer token's grant, or a 401 naming what is wrong with it. */
  verifyViewerToken(token: string, now = Date.now()): Extract<Principal, { kind: 'viewer' }> {
    const [payload, signature, extra] = token.split('.');
    if (!payload || !signature || extra !== undefined || !canonical(payload) || !canonical(signature))
      throw new CastpoolError('unauthorized', 'token is neither an API token nor a viewer token');
    const expected = createHmac('sha256', this.secret).update(payload).digest();
    if (!sameSecret(Buffer.from(signature, 'base64url'), expected))
      throw new CastpoolError('unauthorized', 'viewer token signature is not valid');
    let claims: { s?: unknown; c?: unknown; e?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw new CastpoolError('unauthorized', 'viewer token payload is not valid');
    }
    const { s, c, e } = claims;
    if (
      typeof s !== 'string' ||
      (c !== 'view' && c !== 'control' && c !== 'automate') ||
      typeof e !== 'number'
    )
      throw new CastpoolError('unauthorized', 'viewer token payload is not valid');
    if (e * 1000 <= now)
      throw new CastpoolError('unauthorized', `viewer token expired at ${new Date(e * 1000).toISOString()}`);
    return { kind: 'viewer', sessionId: s, scope: c, expiresAt: e * 1000 };
  }

  /** Who a bearer token speaks for; a token that is given but not valid is a 401, never anonymous. */
  principal(token: string | undefined): Principal {
    if (!token) return { kind: 'anonymous' };
    const name = this.apiTokenName(token);
    if (name) return { kind: 'api', name };
    return this.verifyViewerToken(token);
  }
}
