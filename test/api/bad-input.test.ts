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

// Validation that needs no session runs without Chromium in validation.test.ts; these need a live one.
describe('bad input about a live session gets a 4xx JSON error naming the problem', () => {
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
