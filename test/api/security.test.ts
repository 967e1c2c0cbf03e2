import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCastpool, withApiTokens } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';

// The doors, one castpool with two API tokens, a create rate, a deny list and CORS for one origin.
const OPS = 'ops-token-0123456789abcdef';
const CI = 'ci-token-0123456789abcdef';
const as = (token: string) => ({ authorization: `Bearer ${token}` });

let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;
let sessionId: string;

beforeAll(async () => {
  pages = await startTestPages();
  castpool = await startCastpool({
    maxSessions: 3,
    ...withApiTokens({ name: 'ops', token: OPS }, { name: 'ci', token: CI }),
    rateLimit: { createsPerMinute: 2 },
    urlPolicy: { allowHosts: [], denyHosts: ['localhost'], blockPrivateAddresses: false },
    cors: { origins: ['http://allowed.example'], whepOrigins: ['*'] },
  });
  const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') }, as(OPS));
  expect(created.status).toBe(201);
  sessionId = created.json.id;
});

afterAll(async () => {
  await castpool?.close();
  await pages?.close();
});

describe('API tokens', () => {
  it('401 without a token or with a wrong one, on the API, the events and the metrics', async () => {
    for (const path of [
      '/api/sessions',
      `/api/sessions/${sessionId}`,
      '/api/info',
      '/metrics',
      '/api/events',
    ]) {
      for (const headers of [
        {},
        as('wrong-token-0123456789abcdef'),
        { authorization: 'Basic b3BzOm9wcw==' },
      ]) {
        const response = await castpool.api('GET', path, undefined, headers);
        expect(response.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Bearer');
        expect(response.json).toMatchObject({ statusCode: 401, error: 'unauthorized' });
      }
    }
    expect((await castpool.api('DELETE', `/api/sessions/${sessionId}`)).status).toBe(401);
    expect((await castpool.api('GET', '/api/health')).status).toBe(200);
  });

  it('any configured token opens the API', async () => {
    for (const token of [OPS, CI]) {
      const response = await castpool.api('GET', `/api/sessions/${sessionId}`, undefined, as(token));
      expect(response.status).toBe(200);
    }
    expect((await castpool.api('GET', '/metrics', undefined, as(CI))).text).toMatch(/castpool_sessions/);
  });

  it('guards NATS commands with the same tokens', async () => {
    const anonymous = await castpool.natsCall('get', { id: sessionId });
    expect(anonymous.status).toBe(401);
    expect(anonymous.json.message).toMatch(/missing bearer token/);
    expect((await castpool.natsCall('get', { id: sessionId }, 'wrong')).status).toBe(401);
    const allowed = await castpool.natsCall('get', { id: sessionId }, CI);
    expect(allowed.status).toBe(200);
    expect(allowed.json.id).toBe(sessionId);
  });
});

describe('viewer tokens', () => {
  it('are minted per session with a scope and a bounded lifetime', async () => {
    const minted = await castpool.api(
      'POST',
      `/api/sessions/${sessionId}/viewer-tokens`,
      { scope: 'control', ttlSeconds: 60 },
      as(OPS),
    );
    expect(minted.status).toBe(201);
    expect(minted.json).toMatchObject({ sessionId, scope: 'control' });
    expect(Date.parse(minted.json.expiresAt) - Date.now()).toBeGreaterThan(50_000);
    expect(minted.json.viewUrl).toMatch(new RegExp(`/api/sessions/${sessionId}/view#token=`));
    const tooLong = await castpool.api(
      'POST',
      `/api/sessions/${sessionId}/viewer-tokens`,
      { ttlSeconds: 7200 },
      as(OPS),
    );
    expect(tooLong.status).toBe(400);
    expect(tooLong.json.message).toMatch(/exceeds the maximum of 3600/);
    const unknown = await castpool.api('POST', '/api/sessions/nope/viewer-tokens', {}, as(OPS));
    expect(unknown.status).toBe(404);
    const overNats = await castpool.natsCall('viewer-token', { id: sessionId, scope: 'view' }, OPS);
    expect(overNats.status).toBe(200);
    expect(overNats.json.scope).toBe('view');
  });

  it("open only their own session's WHEP endpoint, never the API", async () => {
    const { tokens } = castpool.castpool.access;
    const view = tokens.mintViewerToken(sessionId, 'view', Date.now() + 60_000);
    const whep = (token: string) =>
      fetch(`${castpool.base}/api/sessions/${sessionId}/whep`, {
        method: 'POST',
        headers: { 'content-type': 'application/sdp', ...as(token) },
        body: 'v=0\r\n',
      });
    // Past the door, the (bad) offer is what is refused: 400, not 401.
    expect((await whep(view)).status).toBe(400);
    expect((await whep(OPS)).status).toBe(400);

    const expired = await whep(tokens.mintViewerToken(sessionId, 'control', Date.now() - 1000));
    expect(expired.status).toBe(401);
    expect((await expired.json()).message).toMatch(/expired/);
    const other = await whep(tokens.mintViewerToken('another-session', 'control', Date.now() + 60_000));
    expect(other.status).toBe(403);
    const forged = `${view.split('.')[0]}.${Buffer.from('x'.repeat(32)).toString('base64url')}`;
    expect((await whep(forged)).status).toBe(401);
    const anonymous = await fetch(`${castpool.base}/api/sessions/${sessionId}/whep`, {
      method: 'POST',
      headers: { 'content-type': 'application/sdp' },
      body: 'v=0\r\n',
    });
    expect(anonymous.status).toBe(401);

    const api = await castpool.api('GET', `/api/sessions/${sessionId}`, undefined, as(view));
    expect(api.status).toBe(403);
    expect(api.json.message).toMatch(/viewer token/);
  });
});

describe('where sessions may go', () => {
  it('400 for a denied host, directly or through a redirect; the session stays where it was', async () => {
    const denied = pages.url('/other').replace('127.0.0.1', 'localhost');
    const direct = await castpool.api(
      'POST',
      `/api/sessions/${sessionId}/navigate`,
      { url: denied },
      as(OPS),
    );
    expect(direct.status).toBe(400);
    expect(direct.json).toMatchObject({ error: 'url_refused' });
    expect(direct.json.message).toMatch(/host "localhost" is denied/);

    const viaRedirect = await castpool.api(
      'POST',
      `/api/sessions/${sessionId}/navigate`,
      { url: pages.url(`/redirect-to?url=${encodeURIComponent(denied)}`) },
      as(OPS),
    );
    expect(viaRedirect.status).toBe(400);
    expect(viaRedirect.json.error).toBe('url_refused');
    expect(viaRedirect.json.message).toMatch(/localhost.*denied/);

    const after = await castpool.api('GET', `/api/sessions/${sessionId}`, undefined, as(OPS));
    expect(after.json.state).toBe('idle');
    expect(after.json.url).toBe(pages.url('/static'));
    // An allowed redirect still works.
    const allowed = await castpool.api(
      'POST',
      `/api/sessions/${sessionId}/navigate`,
      { url: pages.url(`/redirect-to?url=${encodeURIComponent(pages.url('/other'))}`) },
      as(OPS),
    );
    expect(allowed.status).toBe(200);
    expect(allowed.json.url).toBe(pages.url('/other'));
  });

  it('refuses internal schemes on navigate', async () => {
    for (const url of ['file:///etc/passwd', 'chrome://version', 'devtools://devtools', 'data:text/html,x']) {
      const response = await castpool.api('POST', `/api/sessions/${sessionId}/navigate`, { url }, as(OPS));
      expect(response.status, url).toBe(400);
      expect(response.json.message).toMatch(/scheme/);
    }
  });
});

describe('limits', () => {
  it('rate-limits creation per token with 429 and Retry-After', async () => {
    // ops created one in beforeAll; its second is the last this minute.
    const second = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') }, as(OPS));
    expect(second.status).toBe(201);
    const third = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') }, as(OPS));
    expect(third.status).toBe(429);
    expect(third.json).toMatchObject({ error: 'rate_limited' });
    expect(third.json.message).toMatch(/token:ops/);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    const overNats = await castpool.natsCall('create', { url: pages.url('/static') }, OPS);
    expect(overNats.status).toBe(429);
    // Another token has its own allowance.
    const ci = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') }, as(CI));
    expect(ci.status).toBe(201);
  });

  it('413 for a body over the limit', async () => {
    const response = await castpool.api(
      'POST',
      '/api/sessions',
      { url: `http://127.0.0.1/${'a'.repeat(300 * 1024)}` },
      as(CI),
    );
    expect(response.status).toBe(413);
    expect(response.json.statusCode).toBe(413);
  });

  it('answers CORS preflights for configured origins only', async () => {
    const preflight = (origin: string) =>
      fetch(`${castpool.base}/api/sessions`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });
    const allowed = await preflight('http://allowed.example');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://allowed.example');
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/Authorization/i);
    const other = await preflight('http://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('private addresses', () => {
  it('refuses loopback targets when blockPrivateAddresses is on, before any browser starts', async () => {
    const strict = await startCastpool({
      urlPolicy: { allowHosts: [], denyHosts: [], blockPrivateAddresses: true },
    });
    try {
      for (const url of [pages.url('/static'), 'http://[::1]/', 'http://169.254.169.254/latest']) {
        const response = await strict.api('POST', '/api/sessions', { url });
        expect(response.status, url).toBe(400);
        expect(response.json.message).toMatch(/private or loopback/);
      }
      expect(strict.castpool.processes.list().filter((p) => p.kind === 'chromium')).toHaveLength(0);
    } finally {
      await strict.close();
    }
  });
});
