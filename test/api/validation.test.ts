import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectCastpool } from '../helpers/inject.js';

// Validation, auth and error shapes: no Chromium, no nats-server (requests through app.inject).
let castpool: Awaited<ReturnType<typeof injectCastpool>>;

beforeAll(async () => {
  castpool = await injectCastpool({ maxSessions: 1, apiToken: 'secret-token' });
});

afterAll(async () => {
  await castpool?.close();
});

const auth = { authorization: 'Bearer secret-token' };
const post = (path: string, body: unknown) => castpool.api('POST', path, body, auth);

describe('bad input gets a 4xx JSON error naming the problem', () => {
  it.each([
    [{ url: 'not a url' }, /not a valid absolute URL/],
    [{ url: 'file:///etc/passwd' }, /scheme "file:" is not allowed/],
    [{ url: 'chrome://settings' }, /scheme "chrome:" is not allowed/],
    [{ url: 'javascript:alert(1)' }, /scheme "javascript:" is not allowed/],
    [{ url: 'http://127.0.0.1/', viewport: { width: 10, height: 720 } }, /viewport\/width/],
    [{ url: 'http://127.0.0.1/', viewport: { width: 1280 } }, /height/],
    [{ url: 'http://127.0.0.1/', fps: 0 }, /fps/],
    [{ url: 'http://127.0.0.1/', fps: 61 }, /fps/],
    [{ url: 'http://127.0.0.1/', quality: 101 }, /quality/],
    [{ url: 'http://127.0.0.1/', extra: true }, /additional properties/],
    [{}, /url/],
  ])('create %j → 400', async (body, message) => {
    const response = await post('/api/sessions', body);
    expect(response.status).toBe(400);
    expect(response.json).toMatchObject({
      statusCode: 400,
      error: /scheme/.test(String(message)) ? 'url_refused' : 'bad_request',
    });
    expect(response.json.message).toMatch(message);
    // Nothing was started for it.
    expect(castpool.castpool.processes.list()).toEqual([]);
  });

  it('rejects a body that is not JSON', async () => {
    const response = await castpool.api('POST', '/api/sessions', '{"url":', {
      'content-type': 'application/json',
      ...auth,
    });
    expect(response.status).toBe(400);
    expect(response.json.message).toMatch(/JSON/i);
  });

  it('answers 404 for unknown sessions, on every route', async () => {
    for (const [method, path, body] of [
      ['GET', '/api/sessions/nope', undefined],
      ['DELETE', '/api/sessions/nope', undefined],
      ['POST', '/api/sessions/nope/navigate', { url: 'http://127.0.0.1/' }],
      // names of Object.prototype members are ids like any other (found by the fuzzing suite)
      ['DELETE', '/api/sessions/valueOf', undefined],
      ['GET', '/api/sessions/constructor', undefined],
      ['POST', '/api/sessions/toString/resume', undefined],
      ['GET', '/api/sessions/nope/snapshot', undefined],
      ['GET', '/api/sessions/nope/thumbnail?width=320', undefined],
      ['POST', '/api/sessions/nope/viewer-tokens', {}],
      ['DELETE', '/api/sessions/nope/whep/viewer', undefined],
      // not even a valid registry key (found by the fuzzing suite: it was a 503)
      ['DELETE', '/api/sessions/%20', undefined],
      ['GET', '/api/sessions/a.b*', undefined],
    ] as const) {
      const response = await castpool.api(method, path, body, auth);
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.json).toMatchObject({ statusCode: 404, error: 'not_found' });
    }
  });

  it('needs the bearer token when one is configured (health stays open)', async () => {
    expect((await castpool.api('GET', '/api/sessions')).status).toBe(401);
    expect(
      (await castpool.api('GET', '/api/sessions', undefined, { authorization: 'Bearer wrong' })).status,
    ).toBe(401);
    const health = await castpool.api('GET', '/api/health');
    expect([health.status, health.json]).toEqual([200, { status: 'ok' }]);
    expect((await castpool.api('GET', '/api/sessions', undefined, auth)).json).toEqual({ sessions: [] });
  });
});

describe('WHEP input', () => {
  const whep = (body: string, contentType = 'application/sdp') =>
    castpool.api('POST', '/api/sessions/some-session/whep', body, { 'content-type': contentType, ...auth });

  it('answers CORS preflights and exposes the WHEP headers', async () => {
    const response = await castpool.api('OPTIONS', '/api/sessions/some-session/whep', undefined, {
      origin: 'https://player.example',
      'access-control-request-method': 'POST',
    });
    expect(response.status).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(response.headers['access-control-allow-methods']).toMatch(/POST/);
    expect(response.headers['access-control-expose-headers']).toMatch(/Location.*Link.*ETag/);
  });

  it('rejects malformed SDP with 400', async () => {
    const response = await whep('this is not sdp');
    expect(response.status).toBe(400);
    expect(response.json.message).toMatch(/malformed SDP/);
  });

  it('rejects a wrong content type with 415', async () => {
    const response = await whep('v=0', 'text/plain');
    expect(response.status).toBe(415);
    expect(response.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('without NATS by configuration', () => {
  it('is whole: health ok, info names NATS disabled, no nats-server started', async () => {
    const info = await castpool.api('GET', '/api/info', undefined, auth);
    expect(info.json.nats.status).toBe('disabled');
    expect(info.json.capacity).toEqual({ maxSessions: 1, active: 0, available: 1 });
    expect(castpool.castpool.processes.list().filter((p) => p.kind === 'nats-server')).toEqual([]);
  });
});
