import fp from 'fastify-plugin';
import { type Access, bearerOf, type Principal, type ViewerScope } from '../access/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request speaks for (anonymous when no API tokens are configured). */
    principal: Principal;
    /** WHEP requests: what the viewer may do. */
    viewerScope: ViewerScope;
  }
}

/** Paths that hold no data: health, the viewer and dashboard pages (their API calls are checked). */
const OPEN = [/^\/api\/health$/, /^\/api\/sessions\/[^/]+\/view$/, /^\/$/, /^\/docs(\/|$)/];
const WHEP = /^\/api\/sessions\/([^/]+)\/whep(\/[^/]+)?$/;

/**
 * Every request to /api and /metrics needs an API token when tokens are configured; WHEP requests
 * take an API token (control) or a viewer token for that session (its scope). Refusals are 401/403.
 */
export const authPlugin = fp<{ access: Access }>(async (app, { access }) => {
  app.decorateRequest('principal', null as never);
  app.decorateRequest('viewerScope', 'view');
  app.addHook('onRequest', async (request) => {
    request.principal = { kind: 'anonymous' };
    if (request.method === 'OPTIONS') return;
    const path = request.url.split('?')[0] ?? '';
    if (OPEN.some((pattern) => pattern.test(path))) return;
    const bearer = bearerOf(request.headers.authorization);
    const whep = WHEP.exec(path);
    if (whep?.[1]) {
      request.viewerScope = access.viewer(bearer, whep[1]);
      return;
    }
    if (path.startsWith('/api/') || path === '/metrics') request.principal = access.operator(bearer);
  });
});
