import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { headers, type RequestOptions } from '@nats-io/nats-core';
import type { Page } from 'puppeteer-core';
import type { SessionPage } from '../../src/actors/page.js';
import { buildApp } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import { TEST_ROOT } from './test-root.js';

type Overrides = Parameters<typeof loadConfig>[0];

/** Config overrides that turn on API tokens (viewer tokens: 10 min by default, at most 1 h). */
export const withApiTokens = (...tokens: { name: string; token: string }[]) => ({
  auth: { tokens, viewerTokenSecret: '', viewerTokenTtlSeconds: 600, maxViewerTokenTtlSeconds: 3600 },
});

/** The suite's test pages are on 127.0.0.1: the documented intranet opt-out of private-address blocking. */
export const LOOPBACK_PAGES = { allowHosts: [], denyHosts: [], blockPrivateAddresses: false };

/** The sessions' default viewport in tests (the service's own default is 1280×720). */
export const TEST_VIEWPORT = { width: 640, height: 360 };

/** How long an emptied browser waits for the next session in tests (a file that checks closing sets 0). */
export const TEST_BROWSER_LINGER_MS = 3000;

/** Builds and starts castpool on a free loopback port with its profiles under the test root. */
export async function startCastpool(overrides: Overrides = {}, logStream?: { write(line: string): void }) {
  const dataDir = mkdtempSync(join(TEST_ROOT, 'data-'));
  const config: Config = loadConfig(
    {
      port: 0,
      logLevel: 'warn',
      dataDir,
      urlPolicy: LOOPBACK_PAGES,
      ...overrides,
      // Tests create a session right after deleting the last one: the browser waits for it.
      supervision: { browserLingerMs: TEST_BROWSER_LINGER_MS, ...overrides.supervision },
      // Sessions at a quarter of the default picture unless a test asks for more: the same behaviour
      // for a quarter of the encoding on 2 shared cores (tests that check sizes set their own).
      session: { viewport: TEST_VIEWPORT, ...overrides.session },
    },
    {},
  );
  const built = await buildApp(config, logStream);
  // Loopback unless the test names an address (a network lab's).
  const host = overrides.host ?? '127.0.0.1';
  await built.app.listen({ host, port: 0 });
  const { port } = built.app.server.address() as AddressInfo;
  const base = `http://${host}:${port}`;
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, json, text };
  };
  /** A command over NATS, as a client would send it: `{status, json}` like `api` (status 200 = ok). */
  const natsCall = async (op: string, payload: unknown = {}, token?: string) => {
    const nc = built.nats.connection();
    if (!nc) throw new Error('castpool has no NATS connection');
    const options: RequestOptions = { timeout: 30_000 };
    if (token) {
      options.headers = headers();
      options.headers.set('Authorization', `Bearer ${token}`);
    }
    const msg = await nc.request(`castpool.sessions.${op}`, JSON.stringify(payload), options);
    const status = Number(msg.headers?.get('Nats-Service-Error-Code') || 200);
    // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions
    const json: any = msg.data.length > 0 ? msg.json() : undefined;
    return { status, json };
  };
  return { ...built, base, dataDir, api, natsCall, close: () => built.app.close() };
}

/** The real puppeteer Page behind a session (tests look at what its scripts see). */
export function sessionPageOf(castpool: Awaited<ReturnType<typeof startCastpool>>, id: string): Page {
  const page = castpool.castpool.pool.getSnapshot().context.sessions[id]?.ref.getSnapshot().context.page;
  if (!page) throw new Error(`session ${id} has no page`);
  return (page as SessionPage).page;
}
