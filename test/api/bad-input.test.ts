import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCastpool } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';

let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;
let sessionId: string;

beforeAll(async () => {
  pages = await startTestPages();
  castpool = await startCastpool({ maxSessions: 1, apiToken: 'secret-token' });
  const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') }, auth);
  expect(created.status).toBe(201);
  sessionId = created.json.id;
});

afterAll(async () => {
  await castpool?.close();
  await pages?.close();
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
  });

  it('rejects a body that is not JSON', async () => {
    const response = await fetch(`${castpool.base}/api/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: '{"url":',
    });
    expect(response.status).toBe(400);
    expect((await response.json()).message).toMatch(/JSON/i);
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
      // not even a valid registry key (found by the fuzzing suite: it was a 503)
      ['DELETE', '/api/sessions/%20', undefined],
      ['GET', '/api/sessions/a.b*', undefined],
    ] as const) {
      const response = await castpool.api(method, path, body, auth);
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.json.error).toBe('not_found');
    }
  });

  it('refuses navigation to internal schemes', async () => {
    const response = await post(`/api/sessions/${sessionId}/navigate`, { url: 'file:///etc/passwd' });
    expect(response.status).toBe(400);
    expect(response.json.message).toMatch(/file:/);
  });

  it('refuses sessions beyond capacity with 429 and Retry-After', async () => {
    const response = await post('/api/sessions', { url: pages.url('/static') });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(response.json.message).toMatch(/capacity/);
    const info = await castpool.api('GET', '/api/info', undefined, auth);
    expect(info.json.capacity).toEqual({ maxSessions: 1, active: 1, available: 0 });
  });

  it('needs the bearer token when one is configured (health stays open)', async () => {
    expect((await castpool.api('GET', '/api/sessions')).status).toBe(401);
    expect(
      (await castpool.api('GET', '/api/sessions', undefined, { authorization: 'Bearer wrong' })).status,
    ).toBe(401);
    expect((await castpool.api('GET', '/api/health')).status).toBe(200);
    expect((await castpool.api('GET', '/api/sessions', undefined, auth)).status).toBe(200);
  });
});

describe('thumbnails', () => {
  it('returns a JPEG of the asked width, or 400 for a bad width', async () => {
    const response = await fetch(`${castpool.base}/api/sessions/${sessionId}/thumbnail?width=320`, {
      headers: auth,
    });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/jpeg');
    const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 320, 180]);
    const tooSmall = await castpool.api(
      'GET',
      `/api/sessions/${sessionId}/thumbnail?width=2`,
      undefined,
      auth,
    );
    expect(tooSmall.status).toBe(400);
    expect(tooSmall.json.message).toMatch(/width/);
  });
});

describe('WHEP input', () => {
  const whep = (body: string, contentType = 'application/sdp', id = sessionId) =>
    fetch(`${castpool.base}/api/sessions/${id}/whep`, {
      method: 'POST',
      headers: { 'content-type': contentType, ...auth },
      body,
    });

  it('answers CORS preflights and exposes the WHEP headers', async () => {
    const response = await fetch(`${castpool.base}/api/sessions/${sessionId}/whep`, {
      method: 'OPTIONS',
      headers: { origin: 'https://player.example', 'access-control-request-method': 'POST' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(response.headers.get('access-control-expose-headers')).toMatch(/Location.*Link.*ETag/);
  });

  it('rejects malformed SDP with 400', async () => {
    const response = await whep('this is not sdp');
    expect(response.status).toBe(400);
    expect((await response.json()).message).toMatch(/malformed SDP/);
  });

  it('rejects a wrong content type with 415', async () => {
    const response = await whep('v=0', 'text/plain');
    expect(response.status).toBe(415);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('answers 406 when the offer has no codec castpool sends', async () => {
    const av1 = [
      'v=0',
      'o=- 1 2 IN IP4 127.0.0.1',
      's=-',
      't=0 0',
      'm=video 9 UDP/TLS/RTP/SAVPF 45',
      'c=IN IP4 0.0.0.0',
      'a=ice-ufrag:abcd',
      'a=ice-pwd:0123456789012345678901',
      'a=fingerprint:sha-256 00:11',
      'a=mid:0',
      'a=recvonly',
      'a=rtpmap:45 AV1/90000',
      '',
    ].join('\r\n');
    const response = await whep(av1);
    expect(response.status).toBe(406);
    expect((await response.json()).message).toMatch(/H264/);
  });

  it('answers 404 for an unknown viewer resource', async () => {
    const response = await castpool.api('DELETE', `/api/sessions/${sessionId}/whep/nope`, undefined, auth);
    expect(response.status).toBe(404);
    const prototypeName = await castpool.api(
      'DELETE',
      `/api/sessions/${sessionId}/whep/constructor`,
      undefined,
      auth,
    );
    expect(prototypeName.status).toBe(404);
  });
});
