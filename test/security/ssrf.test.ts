import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UrlPolicy } from '../../src/access/url-policy.js';
import { startCastpool } from '../helpers/app.js';
import { until } from '../helpers/viewer.js';

// SSRF with private-address blocking on (the default). The suite's site is on 127.0.0.1, exempted as
// an intranet host (`allowPrivateHosts`); the "victim" is another loopback address, 127.0.0.2, which
// no session may reach by any path: not directly, a redirect, a popup, a target=_blank link, an
// iframe, an image or a fetch. Link-local and metadata addresses are tested at the policy decision
// only: nothing may ever be sent there from this machine.

let castpool: Awaited<ReturnType<typeof startCastpool>>;
let site: Server;
let victim: Server;
let siteBase = '';
let victimBase = '';
const hits: string[] = [];

const listen = (server: Server, host: string) =>
  new Promise<string>((resolve) =>
    server.listen(0, host, () => resolve(`http://${host}:${(server.address() as AddressInfo).port}`)),
  );

beforeAll(async () => {
  victim = createServer((request, response) => {
    hits.push(request.url ?? '');
    response.end('secret');
  });
  victimBase = await listen(victim, '127.0.0.2');
  site = createServer((request, response) => {
    const v = victimBase;
    const pages: Record<string, string> = {
      '/ok': '<title>ok</title><img id="i" src="/pixel">',
      '/popup': `<script>window.open('${v}/popup')</script><a id="a" target="_blank" href="${v}/blank">x</a><script>setTimeout(()=>document.getElementById('a').click(),100)</script>`,
      '/iframe': `<iframe src="${v}/iframe"></iframe>`,
      '/subresources': `<img src="${v}/img"><script>fetch('${v}/fetch').catch(()=>{}); new Image().src='${v}/image2'</script>`,
    };
    if (request.url === '/redirect') {
      response.writeHead(302, { location: `${v}/redirect` }).end();
      return;
    }
    if (request.url === '/pixel') {
      response
        .writeHead(200, { 'content-type': 'image/gif' })
        .end(Buffer.from('R0lGODlhAQABAAAAACw=', 'base64'));
      hits.push('site:/pixel');
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html' }).end(pages[request.url ?? ''] ?? 'none');
  });
  siteBase = await listen(site, '127.0.0.1');
  castpool = await startCastpool({
    maxSessions: 4,
    urlPolicy: {
      allowHosts: [],
      denyHosts: [],
      blockPrivateAddresses: true,
      allowPrivateHosts: ['127.0.0.1'],
    },
  });
});

afterAll(async () => {
  await castpool?.close();
  site?.close();
  victim?.close();
});

const create = (url: string) => castpool.api('POST', '/api/sessions', { url });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('private-address blocking (on by default)', () => {
  it('is the default configuration', async () => {
    const { loadConfig } = await import('../../src/config.js');
    expect(loadConfig({}, {}).urlPolicy.blockPrivateAddresses).toBe(true);
  });

  it('refuses a private target and the service itself before any browser starts', async () => {
    for (const url of [`${victimBase}/`, `${castpool.base.replace('127.0.0.1', 'localhost')}/api/sessions`]) {
      const response = await create(url);
      expect(response.status, url).toBe(400);
      expect(response.json.error).toBe('url_refused');
    }
    expect(castpool.castpool.processes.list().filter((p) => p.kind === 'chromium')).toHaveLength(0);
  });

  it('lets an allowed page load its own subresources (the guard is not a wall)', async () => {
    const created = await create(`${siteBase}/ok`);
    expect(created.status).toBe(201);
    await until(async () => hits.includes('site:/pixel'), Boolean, 10_000);
    await castpool.api('DELETE', `/api/sessions/${created.json.id}`);
  });

  it('refuses a redirect hop to a private address, naming it', async () => {
    const created = await create(`${siteBase}/ok`);
    const navigated = await castpool.api('POST', `/api/sessions/${created.json.id}/navigate`, {
      url: `${siteBase}/redirect`,
    });
    expect(navigated.status).toBe(400);
    expect(navigated.json.message).toContain('127.0.0.2');
    await castpool.api('DELETE', `/api/sessions/${created.json.id}`);
  });

  it('no popup, target=_blank tab, iframe, image or fetch of a page reaches a private address', async () => {
    const ids: string[] = [];
    for (const path of ['/popup', '/iframe', '/subresources']) {
      const created = await create(`${siteBase}${path}`);
      expect(created.status, path).toBe(201);
      ids.push(created.json.id);
    }
    await sleep(2500);
    expect(hits.filter((hit) => !hit.startsWith('site:'))).toEqual([]);
    for (const id of ids) await castpool.api('DELETE', `/api/sessions/${id}`);
  });
});

describe('the policy decision for link-local and metadata addresses (nothing is sent)', () => {
  const policy = new UrlPolicy(
    { allowedSchemes: ['http:', 'https:'], allowHosts: [], denyHosts: [], blockPrivateAddresses: true },
    async (host) => (host === 'metadata.internal.test' ? ['169.254.169.254'] : ['93.184.215.14']),
  );
  it.each([
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/',
    'http://[::ffff:169.254.169.254]/',
    'http://metadata.internal.test/computeMetadata/v1/',
    'http://100.100.100.200/',
  ])('refuses %s as a document and as a subresource', async (url) => {
    expect(await policy.refusal(new URL(url))).toMatch(/private|loopback/);
    expect(await policy.subresourceRefusal(new URL(url))).toMatch(/private|loopback/);
  });
  it('leaves public hosts alone', async () => {
    expect(await policy.refusal(new URL('http://example.com/'))).toBeUndefined();
    expect(await policy.subresourceRefusal(new URL('http://cdn.example.com/a.js'))).toBeUndefined();
  });
});
