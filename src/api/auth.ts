import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type Access, bearerOf, type Principal, type ViewerScope } from '../access/index.js';

/**
 * Who may call a route, declared on the route itself (`config.access`) and decided on the route
 * that matched, never on the raw URL (`/%61pi/sessions` routes to `/api/sessions`):
 * - `open`: holds no data (health, the dashboard and viewer pages, the API docs);
 * - `whep`: an API token, or a viewer token for the session in `:id` (its scope);
 * - `automate`: an API token, or an `automate` token for the session in `:id`, as a bearer header or
 *   a `token` query parameter (CDP clients cannot always set headers; logs redact it);
 * - `party`: an API token, or a `control` or `automate` token for the session in `:id` (the control
 *   lease: the route checks the party the token may act for);
 * - `api` (also every route that declares nothing: deny by default): an API token when configured.
 */
export type RouteAccess = 'open' | 'api' | 'whep' | 'automate' | 'party';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** Who the request speaks for (anonymous when no API tokens are configured). */
    principal: Principal;
    /** WHEP requests: what the viewer may do. */
    viewerScope: ViewerScope;
  }
}

/** The access a route declares: `api` when it declares none (deny by default). */
export function declaredAccess(pattern: string, config: { access?: RouteAccess } | undefined): RouteAccess {
  // The API docs plugin registers its own routes: open by what they are (their pattern).
  if (pattern === '/docs' || pattern.startsWith('/docs/')) return 'open';
  return config?.access ?? 'api';
}

/** The access of the route that matched; undefined when none did (the 404 handler holds nothing). */
export function routeAccess(request: FastifyRequest): RouteAccess | undefined {
  const pattern = request.routeOptions.url;
  return pattern ? declaredAccess(pattern, request.routeOptions.config) : undefined;
}

/**
 * Every request is decided by the route that matched: API routes need an API token when tokens are
 * configured; WHEP routes take an API token (control) or a viewer token for that session (its
 * scope). Requests no route matched reach the 404 handler, which holds nothing. Refusals are 401/403.
 */
export const authPlugin = fp<{ access: Access }>(async (app, { access }) => {
  app.decorateRequest('principal', null as never);
  app.decorateRequest('viewerScope', 'view');
  app.addHook('onRequest', async (request) => {
    request.principal = { kind: 'anonymous' };
    const kind = routeAccess(request);
    if (kind === undefined || kind === 'open') return;
    // CORS preflights carry no credentials by design; @fastify/cors answers them before this hook.
    if (request.method === 'OPTIONS') return;
    const bearer = bearerOf(request.headers.authorization);
    if (kind === 'automate') {
      const { id, token } = { ...(request.params as object), ...(request.query as object) } as {
        id?: unknown;
        token?: unknown;
      };
      access.automation(
        bearer ?? (typeof token === 'string' ? token : undefined),
        typeof id === 'string' ? id : '',
      );
      return;
    }
    if (kind === 'party') {
      const id = (request.params as { id?: unknown }).id;
      request.principal = access.party(bearer, typeof id === 'string' ? id : '');
      return;
    }
    if (kind === 'whep') {
      const id = (request.params as { id?: unknown }).id;
      request.viewerScope = access.viewer(bearer, typeof id === 'string' ? id : '');
      return;
    }
    request.principal = access.operator(bearer);
  });
});
