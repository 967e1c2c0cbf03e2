import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startCastpool } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';
import { until } from '../helpers/viewer.js';

let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;
let devtools: WebSocket;
const received: { type?: string; sessionId?: string; [key: string]: unknown }[] = [];

beforeAll(async () => {
  pages = await startTestPages();
  castpool = await startCastpool({ inspect: { enabled: true, port: 0, uiUrl: 'about:blank' } });
  const info = await castpool.api('GET', '/api/info');
  devtools = new WebSocket(info.json.inspector.webSocket);
  devtools.on('message', (data) => received.push(JSON.parse(data.toString())));
  await new Promise((resolve) => devtools.once('open', resolve));
});

afterAll(async () => {
  devtools?.close();
  await castpool?.close();
  await pages?.close();
});

describe('state inspection', () => {
  let id: string;

  it('streams every session actor to the Stately inspector, contexts sanitised', async () => {
    const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') });
    expect(created.status).toBe(201);
    id = created.json.id;
    const live = await until(
      () => received.filter((e) => e.type === '@xstate.snapshot' && JSON.stringify(e).includes(id)),
      (events) => events.some((e) => JSON.stringify(e).includes('"live"')),
    );
    expect(live.length).toBeGreaterThan(0);
    const text = JSON.stringify(live);
    expect(text).toContain('"$handle":"SessionPage"');
    // No handle internals: no CDP connection, no browser, no peer objects.
    expect(text).not.toMatch(/_connection|"_client"|wsEndpoint|_targetManager/);
    // The pool and its browser host are there too (the actor tree).
    const actors = new Set(received.map((e) => String(e.sessionId ?? '')));
    expect(actors.size).toBeGreaterThan(2);
    expect(received.some((e) => e.type === '@xstate.event')).toBe(true);
  });

  it('GET /api/sessions/:id/snapshot returns the persisted snapshot, versioned', async () => {
    const response = await castpool.api('GET', `/api/sessions/${id}/snapshot`);
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ version: 1, machine: 'session', sessionId: id, state: 'idle' });
    expect(response.json.xstate).toMatch(/^5\./);
    const { snapshot } = response.json;
    expect(snapshot.status).toBe('active');
    expect(snapshot.value).toEqual({ live: { tab: { idle: 'awake' } } });
    expect(snapshot.context.sessionId).toBe(id);
    expect(snapshot.context.url).toBe(pages.url('/static'));
    expect(snapshot.context.page).toEqual({ $handle: 'SessionPage' });
    expect((await castpool.api('GET', '/api/sessions/nope/snapshot')).status).toBe(404);
  });

  it('serves the devtools page that embeds the inspector UI', async () => {
    const info = await castpool.api('GET', '/api/info');
    const page = await fetch(info.json.inspector.page);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<iframe id="ui" src="about:blank">');
    expect(html).toContain(info.json.inspector.webSocket);
    expect(info.json.inspector.webSocket).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
  });
});
