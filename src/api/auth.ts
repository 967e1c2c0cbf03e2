import { timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';

const OPEN_PATHS = new Set(['/api/health']);

/** When `apiToken` is configured, /api needs `Authorization: Bearer <token>` (health stays open). */
export const authPlugin = fp<{ token: string }>(async (app, { token }) => {
  if (!token) return;
  const expected = Buffer.from(token);
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (!path.startsWith('/api/') || OPEN_PATHS.has(path) || request.method === 'OPTIONS') return;
    if (/^\/api\/sessions\/[^/]+\/view$/.test(path)) return; // the page itself holds no data; its WHEP call is checked
    const given = Buffer.from((request.headers.authorization ?? '').replace(/^Bearer\s+/i, ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return reply
        .status(401)
        .header('WWW-Authenticate', 'Bearer')
        .send({ statusCode: 401, error: 'unauthorized', message: 'missing or wrong bearer token' });
    }
  });
});
