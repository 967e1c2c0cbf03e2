import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPTURE_EXTENSION_ID } from '../../src/actors/capture-grant.js';
import { sessionPageOf, startCastpool } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';
import { launchViewerBrowser, openViewPage, until, viewerStats } from '../helpers/viewer.js';

let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;

beforeAll(async () => {
  pages = await startTestPages();
  // A hibernated session's browser closes at once here (the test checks it is released).
  castpool = await startCastpool({
    sessionsPerBrowser: 1,
    supervision: { idleTimeoutMs: 0, browserLingerMs: 0 },
  });
});

afterAll(async () => {
  await castpool?.close();
  await pages?.close();
});

const pageOf = (id: string) => sessionPageOf(castpool, id);
const chromiums = () => castpool.castpool.processes.list().filter((p) => p.kind === 'chromium');

describe('hibernation with real Chromium', () => {
  it('saves URL, cookies, storage and scroll, releases the browser, and resumes with them', async () => {
    const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/stateful') });
    const id: string = created.json.id;
    await until(
      () => pageOf(id).url(),
      (url) => url === pages.url('/stateful'),
      5000,
    );
    await pageOf(id).evaluate(() => scrollTo(0, 1200));
    expect(chromiums()).toHaveLength(1);
    // Nothing but pages in the browser: no hidden WebUI (omnibox popups cost ~70 MB per context); the
    // one other target allowed is castpool's capture extension worker.
    const targets = pageOf(id)
      .browser()
      .targets()
      .filter((t) => t.type() !== 'browser')
      .map((t) => `${t.type()} ${t.url()}`);
    const capture = `service_worker chrome-extension://${CAPTURE_EXTENSION_ID}/worker.js`;
    expect(targets.filter((t) => !t.startsWith('page ') && t !== capture)).toEqual([]);

    const hibernated = await castpool.api('POST', `/api/sessions/${id}/hibernate`);
    expect(hibernated.status).toBe(200);
    expect(hibernated.json.state).toBe('hibernated');
    expect(hibernated.json.hibernation.reason).toBe('requested');
    await until(chromiums, (list) => list.length === 0, 5000);
    expect(chromiums()).toHaveLength(0); // the browser of its only session is gone
    expect((await castpool.api('GET', '/api/info')).json.capacity.active).toBe(0);

    const started = Date.now();
    const resumed = await castpool.api('POST', `/api/sessions/${id}/resume`);
    console.log(`hibernation: resume answered in ${Date.now() - started} ms (browser launch included)`);
    expect(resumed.status).toBe(200);
    expect(resumed.json.state).toBe('idle');
    expect(resumed.json.hibernation).toBeUndefined();
    const restored = await until(
      () =>
        pageOf(id)
          .evaluate(() => ({
            visits: localStorage.visits,
            tab: sessionStorage.tab,
            cookie: document.cookie,
            scrolled: scrollY,
          }))
          .catch(() => undefined),
      (state) => state?.visits === '2' && state.scrolled === 1200,
      5000,
    );
    expect(restored).toEqual({ visits: '2', tab: 'kept', cookie: 'who=castpool', scrolled: 1200 });
    const metrics = (await castpool.api('GET', '/metrics')).text;
    expect(metrics).toMatch(/^castpool_hibernations_total\{reason="requested"\} 1$/m);
    expect(metrics).toMatch(/^castpool_resumes_total 1$/m);
    expect(metrics).toMatch(/^castpool_resume_ms_count 1$/m);
    expect((await castpool.api('DELETE', `/api/sessions/${id}`)).status).toBe(204);
  });

  it('refuses to hibernate a watched session, and a WHEP viewer wakes a hibernated one', async () => {
    const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/animated') });
    const id: string = created.json.id;
    const viewers = await launchViewerBrowser();
    try {
      const watching = await openViewPage(viewers, created.json.links.view);
      await until(
        () => viewerStats(watching),
        (s) => s.framesDecoded > 5,
        10_000,
      );
      const refused = await castpool.api('POST', `/api/sessions/${id}/hibernate`);
      expect(refused.status).toBe(409);
      await watching.close();
      await until(
        async () => (await castpool.api('GET', `/api/sessions/${id}`)).json.state,
        (s) => s === 'idle',
        5000,
      );
      expect((await castpool.api('POST', `/api/sessions/${id}/hibernate`)).json.state).toBe('hibernated');
      const waking = await openViewPage(viewers, created.json.links.view);
      const stats = await until(
        () => viewerStats(waking),
        (s) => s.framesDecoded > 5,
        15_000,
      );
      expect(stats.framesDecoded).toBeGreaterThan(5);
      expect((await castpool.api('GET', `/api/sessions/${id}`)).json.state).toBe('streaming');
    } finally {
      await viewers.close();
      await castpool.api('DELETE', `/api/sessions/${id}`);
    }
  });

  it('hibernates by itself after the idle timeout', async () => {
    const quick = await startCastpool({ supervision: { idleTimeoutMs: 1000 } });
    try {
      const created = await quick.api('POST', '/api/sessions', { url: pages.url('/static') });
      const detail = await until(
        async () => (await quick.api('GET', `/api/sessions/${created.json.id}`)).json,
        (s) => s.state === 'hibernated',
        5000,
      );
      expect(detail.hibernation.reason).toBe('idle timeout');
    } finally {
      await quick.close();
    }
  });

  it('hibernates the least recently viewed idle session under memory pressure, never a watched one', async () => {
    const tight = await startCastpool({ supervision: { memoryBudgetMb: 1, memoryCheckMs: 300 } });
    const viewers = await launchViewerBrowser();
    try {
      const watched = await tight.api('POST', '/api/sessions', { url: pages.url('/animated') });
      const view = await openViewPage(viewers, watched.json.links.view);
      await until(
        () => viewerStats(view),
        (s) => s.framesDecoded > 5,
        10_000,
      );
      const idle = await tight.api('POST', '/api/sessions', { url: pages.url('/static') });
      const detail = await until(
        async () => (await tight.api('GET', `/api/sessions/${idle.json.id}`)).json,
        (s) => s.state === 'hibernated',
        10_000,
      );
      expect(detail.hibernation.reason).toBe('memory pressure');
      const stillWatched = (await tight.api('GET', `/api/sessions/${watched.json.id}`)).json;
      expect(stillWatched.state, JSON.stringify(stillWatched)).toBe('streaming');
    } finally {
      await viewers.close();
      await tight.close();
    }
  });

  it("saves a hibernated session's login as a context on this node's disk (no fleet key), sealed, and starts a new session from it", async () => {
    const sid = `sid-${Math.random().toString(36).slice(2)}`;
    const user = `user-${Math.random().toString(36).slice(2)}`;
    const created = await castpool.api('POST', '/api/sessions', {
      url: pages.url(`/log-in?sid=${sid}&user=${user}`),
    });
    const id: string = created.json.id;
    await until(
      async () => (await castpool.api('GET', `/api/sessions/${id}`)).json.tabs?.[0]?.title,
      (title) => title === 'logged in',
    );
    expect((await castpool.api('POST', `/api/sessions/${id}/hibernate`)).json.state).toBe('hibernated');
    // A hibernated session gives what it saved: no browser needed.
    await until(chromiums, (list) => list.length === 0, 5000);
    const saved = await castpool.api('POST', '/api/contexts', { fromSession: id, name: 'local-login' });
    expect(saved.status, JSON.stringify(saved.json)).toBe(201);
    expect(saved.json).toMatchObject({
      id: 'local-login',
      version: 1,
      scope: 'local',
      cookies: 1,
      localStorageKeys: 1,
    });
    expect(chromiums()).toHaveLength(0);
    const file = join(castpool.castpool.config.dataDir, 'contexts', 'local-login', 'v1.sealed');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const raw = readFileSync(file).toString('latin1');
    expect(raw).not.toContain(sid);
    expect(raw).not.toContain(user);
    // The hibernated session's own saved state is shown by count, never by value.
    const snapshot = await castpool.api('GET', `/api/sessions/${id}/snapshot`);
    expect(snapshot.json.snapshot.context.saved.cookies).toEqual({ $redacted: 1 });
    expect(snapshot.json.snapshot.context.saved.localStorage).toEqual({ $redacted: 1 });
    expect((await castpool.api('DELETE', `/api/sessions/${id}`)).status).toBe(204);
    const fresh = await castpool.api('POST', '/api/sessions', {
      url: pages.url('/whoami'),
      context: 'local-login',
    });
    expect(fresh.status, JSON.stringify(fresh.json)).toBe(201);
    const title = await until(
      async () => (await castpool.api('GET', `/api/sessions/${fresh.json.id}`)).json.tabs?.[0]?.title,
      (t) => t === `sid=${sid} user=${user}`,
    );
    expect(title).toBe(`sid=${sid} user=${user}`);
    // Values are shown only to an API token that asks; there is none here.
    const reveal = await castpool.api('GET', '/api/contexts/local-login?reveal=true');
    expect([reveal.status, reveal.json.message]).toEqual([
      403,
      "a context's values are shown only to an API token",
    ]);
    expect((await castpool.api('GET', '/api/contexts/local-login?version=2')).status).toBe(404);
    expect((await castpool.api('DELETE', '/api/contexts/local-login')).status).toBe(204);
    expect(existsSync(file)).toBe(false);
    await castpool.api('DELETE', `/api/sessions/${fresh.json.id}`);
  });
});
