import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCastpool, withApiTokens } from '../helpers/app.js';

// Every route of the table, reached with and without a token, and through encoded spellings of its
// path: access is decided on the route that matched, so no spelling reaches a protected route anonymously.
const TOKEN = 'sweep-token-0123456789abcdef';

let castpool: Awaited<ReturnType<typeof startCastpool>>;

beforeAll(async () => {
  castpool = await startCastpool(withApiTokens({ name: 'ops', token: TOKEN }));
});
afterAll(async () => {
  await castpool?.close();
});

const pct = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** A concrete path for a route pattern, and spellings that decode (or may decode) to it. */
function spellings(pattern: string): string[] {
  const path = pattern
    .replace(/:id/g, 'no-such-session')
    .replace(/:viewerId/g, 'no-such-viewer')
    .replace(/\*$/, 'x');
  const segments = path.split('/');
  const variants = new Set<string>([path]);
  segments.forEach((segment, i) => {
    if (!/^[a-z]/i.test(segment)) return;
    const first = [...segments];
    first[i] = pct(segment[0] as string) + segment.slice(1);
    variants.add(first.join('/'));
    const upper = [...segments];
    upper[i] = pct(segment[0] as string).toUpperCase() + segment.slice(1);
    variants.add(upper.join('/'));
    const all = [...segments];
    all[i] = [...segment].map(pct).join('');
    variants.add(all.join('/'));
  });
  variants.add(`/${path}`); // a doubled slash
  variants.add(`${path}/`);
  variants.add(`${path};x=1`);
  variants.add(`${path}?x=1`);
  variants.add(path.replace('/api/', '/api/./'));
  variants.add(path.replace('/api/', '/api/x/../'));
  variants.add(path.replace('/api/', '/api%2f'));
  variants.add(path.toUpperCase());
  return [...variants];
}

const bodyFor = (method: string, url: string) => {
  if (method === 'GET' || method === 'HEAD' || method === 'DELETE' || method === 'OPTIONS') return {};
  if (url.includes('/whep/'))
    return {
      payload: 'a=candidate:1 1 udp 1 198.18.0.1 9 typ host',
      headers: { 'content-type': 'application/trickle-ice-sdpfrag' },
    };
  if (url.endsWith('/whep')) return { payload: 'v=0\r\n', headers: { 'content-type': 'application/sdp' } };
  return {
    payload: JSON.stringify({ url: 'http://198.18.0.9/' }),
    headers: { 'content-type': 'application/json' },
  };
};

describe('every route of the table', () => {
  it('lists routes of each kind (the sweep walks the real table)', () => {
    const kinds = new Set(castpool.routes.map((r) => r.access));
    expect(kinds).toEqual(new Set(['open', 'api', 'whep', 'automate', 'party']));
    expect(castpool.routes.length).toBeGreaterThan(20);
  });

  it('without a token, no spelling of a protected route gets past the door', async () => {
    const leaks: string[] = [];
    let tried = 0;
    for (const route of castpool.routes) {
      if (route.access === 'open' || route.method === 'OPTIONS') continue;
      for (const url of spellings(route.url)) {
        const { payload, headers } = bodyFor(route.method, route.url);
        const response = await castpool.app.inject({
          method: route.method as 'GET',
          url,
          ...(payload ? { payload } : {}),
          headers: { ...headers },
        });
        tried++;
        // 401 at the door, or 404: the spelling reached no route at all.
        if (response.statusCode !== 401 && response.statusCode !== 404)
          leaks.push(`${route.method} ${url} → ${response.statusCode} ${response.body.slice(0, 80)}`);
        if (response.statusCode === 404 && route.method !== 'HEAD')
          expect(response.json().error).toBe('not_found');
      }
    }
    expect(leaks).toEqual([]);
    expect(tried).toBeGreaterThan(200);
  });

  it('with a token, every protected route opens (its handler answers, not the door)', async () => {
    for (const route of castpool.routes) {
      if (route.access === 'open' || route.method === 'OPTIONS') continue;
      if (route.url === '/api/events') continue; // a stream: covered by its own test
      const [url] = spellings(route.url);
      const { payload, headers } = bodyFor(route.method, route.url);
      const response = await castpool.app.inject({
        method: route.method as 'GET',
        url: url as string,
        ...(payload ? { payload } : {}),
        headers: { ...headers, authorization: `Bearer ${TOKEN}` },
      });
      expect([401, 403], `${route.method} ${url}: ${response.body}`).not.toContain(response.statusCode);
    }
  });

  it('open routes answer without a token and hold no data', async () => {
    const open = castpool.routes.filter((r) => r.access === 'open' && r.method === 'GET');
    expect(open.map((r) => r.url)).toEqual(
      expect.arrayContaining(['/', '/api/health', '/api/sessions/:id/view']),
    );
    for (const route of open) {
      const [url] = spellings(route.url);
      const response = await castpool.app.inject({ method: 'GET', url: url as string });
      expect(response.statusCode, url).not.toBe(401);
    }
    // The viewer page is the same whether or not the session exists.
    const view = await castpool.app.inject({ method: 'GET', url: '/api/sessions/no-such-session/view' });
    expect(view.statusCode).toBe(200);
    // Health says ok, nothing about NATS or the node without a token; everything with one.
    const health = await castpool.app.inject({ method: 'GET', url: '/api/health' });
    expect(health.json()).toEqual({ status: 'ok' });
    const detailed = await castpool.app.inject({
      method: 'GET',
      url: '/api/health',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(detailed.json()).toMatchObject({ status: 'ok', nats: { status: 'connected' } });
  });

  it('a real client sending an encoded path over the wire is refused too', async () => {
    // fetch() would normalise nothing here, but be explicit: the raw request line carries %61.
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(castpool.base);
      const req = request(
        { host: url.hostname, port: url.port, path: '/%61pi/sessions', method: 'GET' },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(401);
  });
});
