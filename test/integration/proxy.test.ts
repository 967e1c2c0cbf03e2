import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionPageOf, startCastpool } from '../helpers/app.js';
import { startTestPages } from '../helpers/test-pages.js';
import { until } from '../helpers/viewer.js';

let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;
let proxy: Server;
let proxyUrl: string;
/** What the proxy was asked for: `url (answer)`. */
const seen: string[] = [];
const CREDENTIAL = Buffer.from('agent:s3cret-proxy-password').toString('base64');

/**
 * A real HTTP proxy with Basic sign-in: every host it is asked for is served by the test pages (so a
 * made-up host name proves the page came through it, as no resolver knows that name).
 */
beforeAll(async () => {
  pages = await startTestPages();
  const target = new URL(pages.url('/'));
  proxy = createServer((request, response) => {
    const url = request.url ?? '';
    if (request.headers['proxy-authorization'] !== `Basic ${CREDENTIAL}`) {
      seen.push(`${url} (407)`);
      response.writeHead(407, { 'proxy-authenticate': 'Basic realm="castpool test proxy"' }).end();
      return;
    }
    seen.push(`${url} (ok)`);
    const { pathname, search } = new URL(url);
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: `${pathname}${search}`,
        method: request.method,
        headers: request.headers,
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  castpool = await startCastpool({});
});

afterAll(async () => {
  await castpool?.close();
  proxy?.closeAllConnections();
  await new Promise((resolve) => proxy?.close(resolve));
  await pages?.close();
});

describe('a session behind its own proxy', () => {
  it("reaches its page through the proxy, answering the proxy's sign-in; the password is never shown", async () => {
    const page = 'http://pages.castpool-proxy-test.invalid/control';
    const created = await castpool.api('POST', '/api/sessions', {
      url: page,
      proxy: { server: proxyUrl, username: 'agent', password: 's3cret-proxy-password' },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const { id } = created.json;
    try {
      const title = await until(
        () =>
          sessionPageOf(castpool, id)
            .title()
            .catch(() => ''),
        (t) => t === 'control',
      );
      expect(title).toBe('control');
      expect(seen).toContain(`${page} (ok)`);
      const view = await castpool.api('GET', `/api/sessions/${id}`);
      expect(JSON.stringify(view.json)).not.toContain('s3cret');
      const snapshot = await castpool.api('GET', `/api/sessions/${id}/snapshot`);
      expect(snapshot.status).toBe(200);
      expect(snapshot.text).not.toContain('s3cret');
      // Another session, without the proxy, in the same browser: that made-up host is nowhere.
      const direct = await castpool.api('POST', '/api/sessions', { url: page });
      expect(direct.status).toBe(201);
      const failed = await until(
        async () => (await castpool.api('GET', `/api/sessions/${direct.json.id}`)).json.lastNavigation,
        (last) => Boolean(last?.error),
      );
      expect(failed.error).toMatch(/ERR_NAME_NOT_RESOLVED/);
      await castpool.api('DELETE', `/api/sessions/${direct.json.id}`);
    } finally {
      await castpool.api('DELETE', `/api/sessions/${id}`);
    }
  });

  it('names a wrong proxy password or an unreachable proxy in lastNavigation; a bad proxy address is a 400', async () => {
    const wrong = await castpool.api('POST', '/api/sessions', {
      url: 'http://pages.castpool-proxy-test.invalid/other',
      proxy: { server: proxyUrl, username: 'agent', password: 'wrong' },
    });
    const gone = await castpool.api('POST', '/api/sessions', {
      url: 'http://pages.castpool-proxy-test.invalid/other',
      proxy: { server: 'http://127.0.0.1:9' },
    });
    try {
      for (const [created, error] of [
        [wrong, /Chromium shows its error page/],
        [gone, /ERR_PROXY_CONNECTION_FAILED/],
      ] as const) {
        expect(created.status).toBe(201);
        const last = await until(
          async () => (await castpool.api('GET', `/api/sessions/${created.json.id}`)).json.lastNavigation,
          (l) => Boolean(l?.error),
        );
        expect(last?.error).toMatch(error);
      }
      for (const server of [
        'ftp://127.0.0.1:21',
        'http://user:pw@127.0.0.1:8080',
        'http://127.0.0.1:8080/path',
      ])
        expect(
          (await castpool.api('POST', '/api/sessions', { url: pages.url('/other'), proxy: { server } }))
            .status,
        ).toBe(400);
    } finally {
      await castpool.api('DELETE', `/api/sessions/${wrong.json.id}`);
      await castpool.api('DELETE', `/api/sessions/${gone.json.id}`);
    }
  });
});
