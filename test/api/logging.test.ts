import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCastpool } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';
import { until } from '../helpers/viewer.js';

type Line = { msg?: string; sessionId?: string; level: number; [key: string]: unknown };
const lines: Line[] = [];
let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;

beforeAll(async () => {
  pages = await startTestPages();
  castpool = await startCastpool({ logLevel: 'info' }, { write: (line) => lines.push(JSON.parse(line)) });
});

afterAll(async () => {
  await castpool?.close();
  await pages?.close();
});

describe('structured logs', () => {
  it('carry the session id on every line of a session’s life, requests included', async () => {
    const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') });
    const { id } = created.json;
    expect((await castpool.api('GET', `/api/sessions/${id}`)).status).toBe(200);
    expect((await castpool.api('POST', `/api/sessions/${id}/hibernate`)).status).toBe(200);
    expect((await castpool.api('POST', `/api/sessions/${id}/resume`)).status).toBe(200);
    expect((await castpool.api('DELETE', `/api/sessions/${id}`)).status).toBe(204);
    const states = await until(
      () => lines.filter((l) => l.sessionId === id && l.msg?.startsWith('session ')).map((l) => l.msg),
      (found) => found.includes('session closed'),
    );
    expect(states).toEqual(
      expect.arrayContaining([
        'session launching',
        'session idle',
        'session hibernating',
        'session hibernated',
        'session resuming',
        'session closing',
        'session closed',
      ]),
    );
    expect(lines.find((l) => l.msg === 'session hibernated' && l.sessionId === id)?.reason).toBe('requested');
    // Fastify's own request lines for this session's routes carry it too.
    const requests = lines.filter((l) => l.msg === 'request completed' && l.sessionId === id);
    expect(requests.length).toBeGreaterThanOrEqual(4);
    // Nothing else names the session without its id field.
    const stray = lines.filter((l) => JSON.stringify(l).includes(id) && l.sessionId !== id);
    expect(stray.filter((l) => l.msg !== 'incoming request')).toEqual([]);
  });
});
