import { chromium, type Page as PlaywrightPage } from 'playwright-core';
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { SessionPage } from '../../src/actors/page.js';
import { sessionPageOf, startCastpool, withApiTokens } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';
import { launchViewerBrowser, openViewPage, until, videoColour, viewerStats } from '../helpers/viewer.js';

const TOKEN = 'cdp-endpoint-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;
let viewers: BrowserContext;

beforeAll(async () => {
  pages = await startTestPages();
  castpool = await startCastpool({ ...withApiTokens({ name: 'ops', token: TOKEN }) });
  viewers = await launchViewerBrowser();
});

afterAll(async () => {
  await viewers?.close();
  await castpool?.close();
  await pages?.close();
});

type Created = { id: string; links: { view: string; cdp: string } };

async function createSession(path: string): Promise<Created> {
  const created = await castpool.api('POST', '/api/sessions', { url: pages.url(path) }, auth);
  expect(created.status).toBe(201);
  const session = created.json as Created;
  await until(
    () =>
      sessionPageOf(castpool, session.id)
        .evaluate(() => document.readyState === 'complete' && document.title)
        .catch(() => false),
    (title) => typeof title === 'string' && title.length > 0,
  );
  return session;
}

async function token(id: string, scope: 'view' | 'control' | 'automate'): Promise<string> {
  const minted = await castpool.api('POST', `/api/sessions/${id}/viewer-tokens`, { scope }, auth);
  expect(minted.status).toBe(201);
  return minted.json.token;
}

function sessionPage(id: string): SessionPage {
  const entry = castpool.castpool.pool.getSnapshot().context.sessions[id];
  if (!entry) throw new Error(`no session ${id}`);
  return entry.ref.getSnapshot().context.page as SessionPage;
}
const targetIdOf = (id: string) => sessionPage(id).frameId;
const targetIds = (answer: { result?: Record<string, unknown> }) =>
  ((answer.result?.targetInfos ?? []) as { targetId: string }[]).map((t) => t.targetId);

/** The status a WebSocket upgrade gets refused with (and its JSON body), once the server closed the socket. */
function refusedUpgrade(url: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => {
      socket.close();
      reject(new Error('the upgrade was accepted'));
    });
    socket.once('unexpected-response', (request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk;
      });
      // The server ends a refused upgrade's socket (it is no HTTP connection to keep alive).
      response.socket.once('close', () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, body });
      });
      const timer = setTimeout(() => {
        request.destroy();
        reject(new Error('the server kept a refused upgrade open'));
      }, 5000);
    });
    socket.once('error', () => {});
  });
}

/** A raw CDP client: what a hostile script would write on the socket. */
async function rawClient(url: string) {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const events: { method: string; params: Record<string, unknown>; sessionId?: string }[] = [];
  const answers = new Map<number, (message: Record<string, unknown>) => void>();
  socket.on('message', (data) => {
    const message = JSON.parse(String(data));
    if (message.id !== undefined) answers.get(message.id)?.(message);
    else events.push(message);
  });
  let next = 1;
  const send = (method: string, params: object = {}, sessionId?: string) =>
    new Promise<{ result?: Record<string, unknown>; error?: { message: string } }>((resolve) => {
      const id = next++;
      answers.set(id, resolve as never);
      socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  return { socket, send, events, closed };
}

describe("a session's CDP endpoint", () => {
  it('drives the session with Puppeteer: click, type, evaluate, screenshot, a new tab; viewers and the session view see it', async () => {
    const session = await createSession('/control');
    expect(session.links.cdp).toBe(`${castpool.base.replace('http', 'ws')}/api/sessions/${session.id}/cdp`);
    const minted = await castpool.api(
      'POST',
      `/api/sessions/${session.id}/viewer-tokens`,
      { scope: 'view' },
      auth,
    );
    const viewer = await openViewPage(viewers, minted.json.viewUrl);
    await until(
      () => viewerStats(viewer),
      (s) => s.framesDecoded > 0 && s.width > 0,
      15_000,
    );
    let browser: Browser | undefined;
    try {
      browser = await puppeteer.connect({
        browserWSEndpoint: `${session.links.cdp}?token=${await token(session.id, 'automate')}`,
        defaultViewport: null,
      });
      const [page, ...others] = await browser.pages();
      expect(others).toEqual([]);
      expect(page?.url()).toBe(pages.url('/control'));
      const driven = page as Page;
      await driven.click('#button');
      await driven.type('#input', 'typed by puppeteer');
      expect(await driven.evaluate(() => (window as unknown as { clicks: number }).clicks)).toBe(1);
      expect(
        await sessionPageOf(castpool, session.id).$eval('#input', (e) => (e as HTMLInputElement).value),
      ).toBe('typed by puppeteer');
      const red = await until(
        () => videoColour(viewer, 0.9, 0.1),
        (c) => c.r > 150 && c.g < 100,
      );
      expect(red.r).toBeGreaterThan(150);
      const shot = await driven.screenshot();
      expect(Buffer.from(shot).subarray(1, 4).toString()).toBe('PNG');
      const second = await browser.newPage();
      await second.goto(pages.url('/other'));
      expect(await second.title()).toBe('other page');
      const view = await until(
        async () => (await castpool.api('GET', `/api/sessions/${session.id}`, undefined, auth)).json,
        (v) => v.tabs?.length === 2 && v.tabs[1].active && v.url === pages.url('/other'),
      );
      // The session shows the client's tab: its URL is the session's (a restart reopens it).
      expect(view.url).toBe(pages.url('/other'));
      expect(view.tabs.map((t: { url: string }) => t.url)).toEqual([
        pages.url('/control'),
        pages.url('/other'),
      ]);
      expect((await browser.pages()).length).toBe(2);
      // The viewer follows the active tab (the other page is white).
      const white = await until(
        () => videoColour(viewer, 0.9, 0.1),
        (c) => c.r > 200 && c.g > 200 && c.b > 200,
      );
      expect(white.g).toBeGreaterThan(200);
      // Puppeteer's disconnect leaves the session as it is.
      await browser.disconnect();
      browser = undefined;
      const after = await castpool.api('GET', `/api/sessions/${session.id}`, undefined, auth);
      expect(after.json.state).toMatch(/idle|streaming/);
      expect(after.json.tabs).toHaveLength(2);
      // …and counts the client gone: the session may idle again.
      const clients = await until(
        () =>
          castpool.castpool.pool.getSnapshot().context.sessions[session.id]?.ref.getSnapshot().context
            .automationClients,
        (n) => n === 0,
      );
      expect(clients).toBe(0);
    } finally {
      await browser?.disconnect();
      await viewer.close();
      await castpool.api('DELETE', `/api/sessions/${session.id}`, undefined, auth);
    }
  });

  it('drives the session with Playwright (connectOverCDP): click, fill, evaluate, screenshot, a new page', async () => {
    const session = await createSession('/control');
    const browser = await chromium.connectOverCDP(
      `${session.links.cdp}?token=${await token(session.id, 'automate')}`,
    );
    try {
      const contexts = browser.contexts();
      expect(contexts).toHaveLength(1);
      const [page, ...others] = contexts[0]?.pages() ?? [];
      expect(others).toEqual([]);
      expect(page?.url()).toBe(pages.url('/control'));
      const driven = page as PlaywrightPage;
      await driven.click('#button');
      await driven.fill('#input', 'filled by playwright');
      expect(await driven.evaluate(() => (window as unknown as { clicks: number }).clicks)).toBe(1);
      expect(
        await sessionPageOf(castpool, session.id).$eval('#input', (e) => (e as HTMLInputElement).value),
      ).toBe('filled by playwright');
      expect((await driven.screenshot()).subarray(1, 4).toString()).toBe('PNG');
      const second = await contexts[0]?.newPage();
      await second?.goto(pages.url('/other'));
      expect(await second?.title()).toBe('other page');
      const view = await until(
        async () => (await castpool.api('GET', `/api/sessions/${session.id}`, undefined, auth)).json,
        (v) => v.tabs?.length === 2 && v.url === pages.url('/other'),
      );
      expect(view.tabs.map((t: { active: boolean }) => t.active)).toEqual([false, true]);
    } finally {
      // Playwright's close of a browser it connected to only disconnects: the session goes on.
      await browser.close();
      const after = await castpool.api('GET', `/api/sessions/${session.id}`, undefined, auth);
      expect(after.json.state).toMatch(/idle|streaming/);
      await castpool.api('DELETE', `/api/sessions/${session.id}`, undefined, auth);
    }
  });

  it('wakes a hibernated session for a client; a browser crash closes the client cleanly and the reconnect finds the URL it reached', async () => {
    const session = await createSession('/control');
    try {
      expect(
        (await castpool.api('POST', `/api/sessions/${session.id}/hibernate`, undefined, auth)).status,
      ).toBe(200);
      const endpoint = `${session.links.cdp}?token=${TOKEN}`;
      let browser = await puppeteer.connect({ browserWSEndpoint: endpoint, defaultViewport: null });
      const [page] = await browser.pages();
      expect(page?.url()).toBe(pages.url('/control'));
      await page?.goto(pages.url('/other'));
      await until(
        async () => (await castpool.api('GET', `/api/sessions/${session.id}`, undefined, auth)).json.url,
        (url) => url === pages.url('/other'),
      );
      const disconnected = new Promise((resolve) => browser.once('disconnected', resolve));
      const closed = new Promise<{ code: number; reason: string }>((resolve) => {
        const socket = new WebSocket(endpoint);
        socket.once('close', (code, reason) => resolve({ code, reason: String(reason) }));
      });
      await until(
        () =>
          castpool.castpool.pool.getSnapshot().context.sessions[session.id]?.ref.getSnapshot().context
            .automationClients,
        (n) => n === 2,
      );
      const hostId = castpool.castpool.pool.getSnapshot().context.sessions[session.id]?.hostId;
      const chromium = castpool.castpool.processes
        .list()
        .find((p) => p.kind === 'chromium' && p.owner === hostId);
      process.kill(chromium?.pid ?? -1, 'SIGKILL');
      expect(await closed).toEqual({
        code: 1001,
        reason: 'castpool: the session is restarting (its browser went away); reconnect',
      });
      await disconnected;
      const live = await until(
        async () => (await castpool.api('GET', `/api/sessions/${session.id}`, undefined, auth)).json,
        (v) => v.state === 'idle' || v.state === 'streaming',
        30_000,
      );
      expect(live.url).toBe(pages.url('/other'));
      browser = await puppeteer.connect({ browserWSEndpoint: endpoint, defaultViewport: null });
      expect((await browser.pages()).map((p) => p.url())).toEqual([pages.url('/other')]);
      await browser.disconnect();
    } finally {
      await castpool.api('DELETE', `/api/sessions/${session.id}`, undefined, auth);
    }
  });

  it('lets a hostile client reach nothing of the neighbour session in the same browser, nor the browser', async () => {
    const mine = await createSession('/control');
    const neighbour = await createSession('/other');
    const browserOf = (id: string) => sessionPage(id).context.browser();
    expect(browserOf(mine.id)).toBe(browserOf(neighbour.id)); // two sessions, one Chromium
    const client = await rawClient(`${mine.links.cdp}?token=${await token(mine.id, 'automate')}`);
    try {
      const own = targetIdOf(mine.id);
      const theirs = targetIdOf(neighbour.id);
      const listed = await client.send('Target.getTargets');
      expect(targetIds(listed)).toEqual([own]);
      await client.send('Target.setDiscoverTargets', { discover: true });
      expect(
        client.events.filter((e) => e.method === 'Target.targetCreated').map((e) => e.params.targetInfo),
      ).toEqual([expect.objectContaining({ targetId: own, type: 'page' })]);
      for (const [method, params] of [
        ['Target.attachToTarget', { targetId: theirs, flatten: true }],
        ['Target.closeTarget', { targetId: theirs }],
        ['Target.activateTarget', { targetId: theirs }],
        ['Target.createBrowserContext', {}],
        ['Target.disposeBrowserContext', { browserContextId: 'x' }],
        ['Browser.close', {}],
        ['Browser.crash', {}],
        ['SystemInfo.getProcessInfo', {}],
        ['Storage.getCookies', {}],
        ['Tracing.start', {}],
        ['Browser.grantPermissions', { permissions: ['geolocation'] }],
      ] as const) {
        const answer = await client.send(method, params);
        expect(answer.error?.message, method).toBeTruthy();
      }
      // On its own tab: the Target domain is the virtual browser's; castpool's worlds are not its.
      const attached = await client.send('Target.attachToTarget', { targetId: own, flatten: true });
      const tabSession = attached.result?.sessionId as string;
      expect(tabSession).toBeTruthy();
      const fromTab = await client.send('Target.getTargets', {}, tabSession);
      expect(targetIds(fromTab)).toEqual([own]);
      expect(
        (await client.send('Target.attachToTarget', { targetId: theirs, flatten: true }, tabSession)).error,
      ).toBeTruthy();
      expect((await client.send('Page.crash', {}, tabSession)).error?.message).toMatch(/not available/);
      expect((await client.send('Network.getAllCookies', {}, tabSession)).error?.message).toMatch(
        /not available/,
      );
      expect(
        (
          await client.send(
            'Page.createIsolatedWorld',
            { frameId: own, worldName: 'castpool-widgets' },
            tabSession,
          )
        ).error?.message,
      ).toMatch(/reserved/);
      expect((await client.send('Page.close', {}, tabSession)).error?.message).toMatch(/last tab/);
      const evaluated = await client.send(
        'Runtime.evaluate',
        { expression: '1 + 1', returnByValue: true },
        tabSession,
      );
      expect(evaluated.result?.result).toEqual({ type: 'number', value: 2, description: '2' });
      await client.send('Runtime.enable', {}, tabSession);
      await until(
        async () => client.events.filter((e) => e.method === 'Runtime.executionContextCreated').length,
        (n) => n > 0,
      );
      const worlds = client.events
        .filter((e) => e.method === 'Runtime.executionContextCreated')
        .map((e) => (e.params.context as { name: string }).name);
      expect(worlds.some((name) => name.startsWith('castpool'))).toBe(false);
      // Nothing of it reached the neighbour; both sessions are live and whole.
      for (const id of [mine.id, neighbour.id]) {
        const view = await castpool.api('GET', `/api/sessions/${id}`, undefined, auth);
        expect(view.json.state).toMatch(/idle|streaming/);
        expect(view.json.tabs).toHaveLength(1);
      }
      expect(await sessionPageOf(castpool, neighbour.id).title()).toBe('other page');
    } finally {
      client.socket.close();
      await castpool.api('DELETE', `/api/sessions/${mine.id}`, undefined, auth);
      await castpool.api('DELETE', `/api/sessions/${neighbour.id}`, undefined, auth);
    }
  });

  it('takes an API token or an automate token of its own session; DELETE closes the client with the reason', async () => {
    const session = await createSession('/control');
    const other = await createSession('/other');
    try {
      const endpoint = session.links.cdp;
      const upgrade = async (query: string) => (await refusedUpgrade(`${endpoint}${query}`)).status;
      expect(await upgrade('')).toBe(401);
      expect(await upgrade(`?token=${await token(session.id, 'view')}`)).toBe(403);
      expect(await upgrade(`?token=${await token(session.id, 'control')}`)).toBe(403);
      expect(await upgrade(`?token=${await token(other.id, 'automate')}`)).toBe(403);
      expect(await upgrade('?token=not-a-token')).toBe(401);
      const unknown = await refusedUpgrade(endpoint.replace(session.id, 'nope'), auth);
      expect(unknown.status).toBe(404);
      expect(JSON.parse(unknown.body).message).toMatch(/session nope/);
      // A plain request is told what the endpoint is, and attaches nothing.
      const plain = await castpool.api('GET', `/api/sessions/${session.id}/cdp`, undefined, auth);
      expect([plain.status, plain.json.message]).toEqual([400, expect.stringMatching(/WebSocket/)]);
      // An automate token does not open the viewer.
      const whep = await castpool.api('POST', `/api/sessions/${session.id}/whep`, undefined, {
        authorization: `Bearer ${await token(session.id, 'automate')}`,
      });
      expect(whep.status).toBe(403);

      const client = await rawClient(`${session.links.cdp}?token=${TOKEN}`);
      expect((await client.send('Browser.getVersion')).result?.product).toMatch(/Chrom/);
      expect((await castpool.api('DELETE', `/api/sessions/${session.id}`, undefined, auth)).status).toBe(204);
      const closed = await client.closed;
      expect(closed).toEqual({ code: 1001, reason: 'castpool: the session was deleted' });
    } finally {
      await castpool.api('DELETE', `/api/sessions/${session.id}`, undefined, auth);
      await castpool.api('DELETE', `/api/sessions/${other.id}`, undefined, auth);
    }
  });

  it('holds a control lease between a person and the agent: the agent is refused while the person drives, and drives again after release; events in order', async () => {
    const session = await createSession('/control');
    const events: { change: string; holder: unknown; previous: unknown }[] = [];
    const abort = new AbortController();
    const sse = readControlEvents(session.id, events, abort.signal);
    const person = await openViewPage(
      viewers,
      (await castpool.api('POST', `/api/sessions/${session.id}/viewer-tokens`, { scope: 'control' }, auth))
        .json.viewUrl,
    );
    let browser: Browser | undefined;
    try {
      const automate = await token(session.id, 'automate');
      browser = await puppeteer.connect({
        browserWSEndpoint: `${session.links.cdp}?token=${automate}`,
        defaultViewport: null,
      });
      const [driven] = (await browser.pages()) as Page[];
      const cdp = await (driven as Page).createCDPSession();
      const rootControl = () => rawControl(session.links.cdp, automate);
      // Agent first (the default): the CDP client drives as soon as it is attached.
      const first = await rootControl();
      expect(first.holder).toEqual({ kind: 'agent' });
      await (driven as Page).type('#input', 'agent-1');
      expect(
        await sessionPageOf(castpool, session.id).$eval('#input', (e) => (e as HTMLInputElement).value),
      ).toBe('agent-1');

      // The person takes over with the view page's own button.
      const bar = await until(
        () => viewerStats(person).then((s) => (s as { lease?: { holder: string | null } }).lease),
        (lease) => lease?.holder === 'agent',
        15_000,
      );
      expect(bar?.holder).toBe('agent');
      // The person's own input is refused while the agent drives (the page has the focus in #input).
      await person.keyboard.type('person');
      const said = await until(
        () => viewerStats(person).then((s) => (s as { lease?: { refused?: string } }).lease),
        (lease) => lease?.refused !== undefined,
      );
      expect(said?.refused).toMatch(/the agent \(CDP client\) holds control of this session since/);
      expect(
        await sessionPageOf(castpool, session.id).$eval('#input', (e) => (e as HTMLInputElement).value),
      ).toBe('agent-1');
      await person.click('#lease-take');
      const taken = await until(
        () => viewerStats(person).then((s) => (s as { lease?: { holder: string | null } }).lease),
        (lease) => lease?.holder === 'you',
      );
      expect(taken?.holder).toBe('you');
      const { viewerId } = (await viewerStats(person)) as unknown as { viewerId: string };
      const held = (await castpool.api('GET', `/api/sessions/${session.id}`, undefined, auth)).json;
      expect(held.control).toMatchObject({
        holder: { kind: 'person', viewerId },
        how: 'take',
        defaultHolder: 'agent',
      });

      // The agent's typing is refused with a CDP error naming who drives; the page is unchanged.
      const refused = await (driven as Page).type('#input', 'agent-2').then(
        () => 'typed',
        (error: Error) => error.message,
      );
      expect(refused).toMatch(
        /Input\.dispatchKeyEvent refused: a person \(viewer .+\) holds control of this session since/,
      );
      const rawRefused = await cdp.send('Input.insertText', { text: 'sneaky' }).then(
        () => 'inserted',
        (error: Error) => error.message,
      );
      expect(rawRefused).toMatch(/refused/);
      expect(
        await sessionPageOf(castpool, session.id).$eval('#input', (e) => (e as HTMLInputElement).value),
      ).toBe('agent-1');
      // …and the agent can tell who holds it and since when, and ask for it (the person is told).
      const seen = await rootControl();
      expect(seen).toMatchObject({ holder: { kind: 'person', viewerId }, you: false });
      expect(Date.parse(String(seen.since))).toBeGreaterThan(0);
      const asked = await castpool.api(
        'POST',
        `/api/sessions/${session.id}/control`,
        { action: 'take' },
        { authorization: `Bearer ${automate}` },
      );
      expect(asked.status).toBe(409);
      expect(asked.json.message).toMatch(
        /a person \(viewer .+\) holds control since .+; ask for it with action "request"/,
      );
      expect(
        (
          await castpool.api(
            'POST',
            `/api/sessions/${session.id}/control`,
            { action: 'request' },
            { authorization: `Bearer ${automate}` },
          )
        ).status,
      ).toBe(200);
      const told = await until(
        () => viewerStats(person).then((s) => (s as { lease?: { requestedBy: string | null } }).lease),
        (lease) => lease?.requestedBy === 'agent',
      );
      expect(told?.requestedBy).toBe('agent');

      // The person hands back; the agent's typing lands.
      await person.click('#lease-release');
      await until(
        () => viewerStats(person).then((s) => (s as { lease?: { holder: string | null } }).lease),
        (lease) => lease?.holder === 'agent',
      );
      await (driven as Page).type('#input', '+agent-3');
      expect(
        await sessionPageOf(castpool, session.id).$eval('#input', (e) => (e as HTMLInputElement).value),
      ).toBe('agent-1+agent-3');

      // Events, in order: the agent by default, the person's take, the agent's request, the hand-back.
      const changes = await until(
        () => events.map((e) => `${e.change}:${(e.holder as { kind?: string } | null)?.kind ?? 'nobody'}`),
        (list) => list.length >= 4,
      );
      expect(changes).toEqual(['taken:agent', 'taken:person', 'requested:person', 'taken:agent']);
    } finally {
      abort.abort();
      await sse;
      await browser?.disconnect();
      await person.close();
      await castpool.api('DELETE', `/api/sessions/${session.id}`, undefined, auth);
    }
  });

  it("opens Chrome's own DevTools front end on the session's page endpoint (links.devtools), under the same policy", async () => {
    const session = await createSession('/control');
    const devtools = await viewers.newPage();
    try {
      const view = (await castpool.api('GET', `/api/sessions/${session.id}`, undefined, auth)).json;
      const endpoint = `${castpool.base.replace('http://', '')}/api/sessions/${session.id}/devtools`;
      expect(view.links.devtools).toBe(
        `devtools://devtools/bundled/devtools_app.html?ws=${encodeURIComponent(endpoint)}`,
      );
      const minted = await castpool.api(
        'POST',
        `/api/sessions/${session.id}/viewer-tokens`,
        { scope: 'automate' },
        auth,
      );
      expect(minted.json.devtoolsUrl).toBe(
        `devtools://devtools/bundled/devtools_app.html?ws=${encodeURIComponent(`${endpoint}?token=${minted.json.token}`)}`,
      );
      // The page endpoint answers page commands without a session, and refuses what the CDP endpoint refuses.
      const raw = await rawClient(`ws://${endpoint}?token=${minted.json.token}`);
      const title = await raw.send('Runtime.evaluate', { expression: 'document.title', returnByValue: true });
      expect((title.result?.result as { value?: string } | undefined)?.value).toBe('control');
      expect((await raw.send('Target.createBrowserContext')).error?.message).toMatch(/not available/);
      expect((await raw.send('Target.getTargets')).result?.targetInfos).toHaveLength(1);
      raw.socket.close();
      await sessionPageOf(castpool, session.id).evaluate(() => {
        const mark = document.createElement('p');
        mark.textContent = 'inspected-by-devtools';
        document.body.append(mark);
      });
      // A person's Chrome opens the link: here the test's headless Chromium, with its bundled front end.
      await devtools.goto(minted.json.devtoolsUrl);
      const seen = await until(
        () =>
          devtools.evaluate(() => {
            const text = (root: Document | ShadowRoot): string => {
              let all =
                root instanceof Document
                  ? (root.documentElement.textContent ?? '')
                  : (root.textContent ?? '');
              for (const element of root.querySelectorAll('*'))
                if (element.shadowRoot) all += text(element.shadowRoot);
              return all;
            };
            return text(document).includes('inspected-by-devtools');
          }),
        (found) => found,
        20_000,
      );
      expect(seen).toBe(true);
    } finally {
      await devtools.close();
      await castpool.api('DELETE', `/api/sessions/${session.id}`, undefined, auth);
    }
  });

  it("shows a saved context's values only to an API token that asks for them", async () => {
    const session = await createSession('/log-in?sid=reveal-me&user=someone');
    try {
      await until(
        async () =>
          (await castpool.api('GET', `/api/sessions/${session.id}`, undefined, auth)).json.tabs?.[0]?.title,
        (title) => title === 'logged in',
      );
      const saved = await castpool.api(
        'POST',
        '/api/contexts',
        { fromSession: session.id, name: 'reveal' },
        auth,
      );
      expect(saved.status, JSON.stringify(saved.json)).toBe(201);
      expect(saved.json.scope).toBe('fleet'); // API tokens give the fleet a key: the embedded server's KV
      expect(JSON.stringify(saved.json)).not.toContain('reveal-me');
      const automate = { authorization: `Bearer ${await token(session.id, 'automate')}` };
      expect(
        (await castpool.api('GET', '/api/contexts/reveal?reveal=true', undefined, automate)).status,
      ).toBe(403);
      const shown = await castpool.api('GET', '/api/contexts/reveal?reveal=true', undefined, auth);
      expect(
        shown.json.state.cookies.map((c: { name: string; value: string }) => `${c.name}=${c.value}`),
      ).toEqual(['sid=reveal-me']);
      expect(shown.json.state.localStorage).toEqual({ user: 'someone' });
      expect((await castpool.api('DELETE', '/api/contexts/reveal', undefined, auth)).status).toBe(204);
    } finally {
      await castpool.api('DELETE', `/api/sessions/${session.id}`, undefined, auth);
    }
  });

  it('lets only the parties a token speaks for act on the lease', async () => {
    const session = await createSession('/control');
    try {
      const control = (path: string, body: object, bearer?: string) =>
        castpool.api(
          'POST',
          `/api/sessions/${session.id}/control${path}`,
          body,
          bearer ? { authorization: `Bearer ${bearer}` } : {},
        );
      expect((await control('', { action: 'take' })).status).toBe(401);
      expect((await control('', { action: 'take' }, await token(session.id, 'view'))).json.message).toBe(
        'a view token never drives',
      );
      const controlToken = await token(session.id, 'control');
      expect((await control('', { action: 'take', as: 'agent' }, controlToken)).status).toBe(403);
      expect((await control('', { action: 'take', viewerId: 'nobody' }, controlToken)).status).toBe(404);
      expect(
        (await control('', { action: 'take', viewerId: 'x', force: true }, controlToken)).json.message,
      ).toBe('only an API token may force the lease');
      const automate = await token(session.id, 'automate');
      expect((await control('', { action: 'take', viewerId: 'x' }, automate)).status).toBe(403);
      // The agent acts only while a CDP client is attached.
      const noAgent = await control('', { action: 'take' }, automate);
      expect([noAgent.status, noAgent.json.message]).toEqual([
        409,
        `no CDP client is attached to session ${session.id}`,
      ]);
      expect((await control('', { action: 'grab' }, TOKEN)).status).toBe(400);
      const other = await createSession('/other');
      expect((await control('', { action: 'take' }, await token(other.id, 'automate'))).status).toBe(403);
      await castpool.api('DELETE', `/api/sessions/${other.id}`, undefined, auth);
      // An operator frees it whoever holds it.
      const freed = await control('', { action: 'release', force: true }, TOKEN);
      expect([freed.status, freed.json.control.holder]).toEqual([200, null]);
    } finally {
      await castpool.api('DELETE', `/api/sessions/${session.id}`, undefined, auth);
    }
  });
});

/** `Castpool.getControl` on a connection of its own (what an agent asks to learn who drives). */
async function rawControl(cdpUrl: string, automate: string) {
  const client = await rawClient(`${cdpUrl}?token=${automate}`);
  try {
    const answer = await client.send('Castpool.getControl');
    if (!answer.result) throw new Error(answer.error?.message ?? 'no answer');
    return answer.result;
  } finally {
    client.socket.close();
  }
}

/** Reads the session's control events from castpool's Server-Sent Events until aborted. */
async function readControlEvents(
  id: string,
  into: { change: string; holder: unknown; previous: unknown }[],
  signal: AbortSignal,
): Promise<void> {
  try {
    const response = await fetch(`${castpool.base}/api/events`, { headers: auth, signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (/^event: control$/m.test(block) && data) {
          const event = JSON.parse(data);
          if (event.sessionId === id) into.push(event);
        }
      }
    }
  } catch {
    // aborted
  }
}
