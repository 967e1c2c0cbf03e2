import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCastpool } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';

let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;

beforeAll(async () => {
  pages = await startTestPages();
  castpool = await startCastpool({ maxSessions: 2, sessionsPerBrowser: 4 });
});

// Each case starts from an empty node, whatever the one before left behind.
beforeEach(async () => {
  for (const { id } of castpool.commands.sessions.list().sessions)
    await castpool.commands.sessions.delete({ id });
});

afterAll(async () => {
  await castpool?.close();
  await pages?.close();
});

interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: checked by the assertions
  json: any;
  retryAfter?: string | null;
}
type Driver = (op: string, payload?: Record<string, unknown>) => Promise<Reply>;

/** The same commands over both faces; REST success codes (201, 204) count as 200. */
const drivers: Record<'rest' | 'nats', Driver> = {
  rest: async (op, payload = {}) => {
    const { id, ...body } = payload as { id?: string };
    const route: Record<string, [string, string, unknown?]> = {
      create: ['POST', '/api/sessions', body],
      list: ['GET', '/api/sessions'],
      get: ['GET', `/api/sessions/${id}`],
      delete: ['DELETE', `/api/sessions/${id}`],
      navigate: ['POST', `/api/sessions/${id}/navigate`, body],
      hibernate: ['POST', `/api/sessions/${id}/hibernate`],
      resume: ['POST', `/api/sessions/${id}/resume`],
    };
    const [method, path, sent] = route[op] as [string, string, unknown?];
    const response = await castpool.api(method, path, sent);
    const status = response.status >= 200 && response.status < 300 ? 200 : response.status;
    return { status, json: response.json, retryAfter: response.headers.get('retry-after') };
  },
  nats: async (op, payload = {}) => {
    const reply = await castpool.natsCall(op, payload);
    return {
      ...reply,
      retryAfter: reply.json?.retryAfterSeconds ? String(reply.json.retryAfterSeconds) : null,
    };
  },
};

describe.each(['rest', 'nats'] as const)('every command over %s', (face) => {
  const call = drivers[face];

  it('refuses bad input with 400 naming the problem', async () => {
    for (const [body, message] of [
      [{ url: 'not a url' }, /not a valid absolute URL/],
      [{ url: 'file:///etc/passwd' }, /scheme "file:" is not allowed/],
      [{ url: 'javascript:alert(1)' }, /scheme "javascript:" is not allowed/],
      [{ url: 'http://127.0.0.1/', viewport: { width: 10, height: 720 } }, /width/],
      [{ url: 'http://127.0.0.1/', fps: 61 }, /fps/],
      [{ url: 'http://127.0.0.1/', priority: 10 }, /priority/],
      [{ url: 'http://127.0.0.1/', extra: true }, /additional propert|extra/i],
      [{}, /url/],
    ] as const) {
      const reply = await call('create', body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.json).toMatchObject({
        statusCode: 400,
        error: /scheme/.test(String(message)) ? 'url_refused' : 'bad_request',
      });
      expect(reply.json.message).toMatch(message);
    }
  });

  it('answers 404 for unknown sessions, prototype names included', async () => {
    for (const [op, id] of [
      ['get', 'nope'],
      ['delete', 'valueOf'],
      ['navigate', 'constructor'],
      ['hibernate', 'nope'],
      ['resume', 'toString'],
    ] as const) {
      const reply = await call(op, op === 'navigate' ? { id, url: 'http://127.0.0.1/' } : { id });
      expect(reply.status, `${op} ${id}`).toBe(404);
      expect(reply.json.error).toBe('not_found');
    }
  });

  it('creates, lists, navigates, hibernates, resumes and deletes a session; 429 past capacity', async () => {
    const created = await call('create', {
      url: pages.url('/static'),
      viewport: { width: 640, height: 360 },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(200);
    const { id } = created.json;
    expect(created.json).toMatchObject({ state: 'idle', node: castpool.castpool.config.nodeId, priority: 5 });
    expect(created.json.links.whep).toMatch(new RegExp(`/api/sessions/${id}/whep$`));

    expect((await call('navigate', { id, url: 'file:///etc/passwd' })).status).toBe(400);
    const navigated = await call('navigate', { id, url: pages.url('/animated') });
    expect(navigated.status).toBe(200);
    expect(navigated.json.url).toBe(pages.url('/animated'));

    const second = await call('create', { url: pages.url('/static') });
    expect(second.status).toBe(200);
    const third = await call('create', { url: pages.url('/static') });
    expect(third.status).toBe(429);
    expect(third.json.message).toMatch(/capacity/);
    expect(third.retryAfter).toBe('5');

    const listed = await call('list');
    expect(listed.status).toBe(200);
    expect(listed.json.sessions.map((s: { id: string }) => s.id).sort()).toEqual([id, second.json.id].sort());

    const hibernated = await call('hibernate', { id });
    expect(hibernated.json).toMatchObject({ state: 'hibernated', hibernation: { reason: 'requested' } });
    const resumed = await call('resume', { id });
    expect(resumed.json).toMatchObject({ state: 'idle', url: pages.url('/animated') });

    for (const session of [id, second.json.id])
      expect((await call('delete', { id: session })).status).toBe(200);
    expect((await call('get', { id })).status).toBe(404);
  });
});

describe('the NATS service', () => {
  it('is discoverable with the services framework (name, version, endpoints)', async () => {
    const nc = castpool.nats.connection();
    const reply = await nc?.request('$SRV.INFO.castpool', '', { timeout: 5000 });
    const info = reply?.json<{ name: string; version: string; endpoints: { subject: string }[] }>();
    expect(info?.name).toBe('castpool');
    expect(info?.version).toMatch(/^\d+\.\d+\.\d+/);
    const subjects = info?.endpoints.map((e: { subject: string }) => e.subject) ?? [];
    for (const op of ['create', 'list', 'get', 'delete', 'navigate', 'hibernate', 'resume'])
      expect(subjects).toContain(`castpool.sessions.${op}`);
  });

  it('refuses a payload that is not JSON with 400', async () => {
    const nc = castpool.nats.connection();
    const msg = await nc?.request('castpool.sessions.get', '{"id":', { timeout: 5000 });
    expect(msg?.headers?.get('Nats-Service-Error-Code')).toBe('400');
  });
});
