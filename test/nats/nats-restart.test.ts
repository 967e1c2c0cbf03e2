import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import type { BrowserContext } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCastpool } from '../helpers/app.js';
import { startNatsServer, type TestNatsServer } from '../helpers/nats-server.js';
import { openEntry, TEST_FLEET_SECRET } from '../helpers/registry.js';
import { startTestPages } from '../helpers/test-pages.js';
import { launchViewerBrowser, startTricklingPlayer, until } from '../helpers/viewer.js';

let server: TestNatsServer;
let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;
let viewers: BrowserContext;

beforeAll(async () => {
  pages = await startTestPages();
  server = await startNatsServer();
  castpool = await startCastpool({
    nats: { url: server.url, requestTimeoutMs: 2000, pingIntervalMs: 1000 },
    fleet: { secret: TEST_FLEET_SECRET },
  });
  viewers = await launchViewerBrowser();
});

afterAll(async () => {
  await viewers?.close();
  await castpool?.close();
  await server?.stop();
  await pages?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a NATS server restart in the middle of traffic', () => {
  it('every command succeeds or fails clearly, streaming goes on, the registry is whole after', async () => {
    const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/animated'), fps: 30 });
    expect(created.status).toBe(201);
    const id: string = created.json.id;
    // A player whose frame count is read every 200 ms (the view page's HUD only every second).
    const view = await viewers.newPage();
    await view.goto(`${castpool.base}/api/health`);
    await startTricklingPlayer(view, created.json.links.whep);
    const framesDecoded = () =>
      view.evaluate(
        () => (window as unknown as { trickling: { framesDecoded: number } }).trickling.framesDecoded,
      );
    await until(framesDecoded, (n) => n > 30, 15_000);

    // A NATS client of its own, configured like castpool's (reconnects forever).
    const client = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    type Phase = 'before' | 'down' | 'after';
    let phase: Phase = 'before';
    const outcomes: { face: string; status: number; ms: number; phase: Phase }[] = [];
    const command = async (face: 'rest' | 'nats') => {
      const sentIn = phase;
      const t0 = performance.now();
      let status: number;
      if (face === 'rest') status = (await castpool.api('GET', `/api/sessions/${id}`)).status;
      else {
        try {
          const msg = await client.request('castpool.sessions.get', JSON.stringify({ id }), {
            timeout: 2000,
          });
          status = Number(msg.headers?.get('Nats-Service-Error-Code') || 200);
        } catch (error) {
          // The client's own verdict: no connection (503) or no answer in time (504).
          status = /timeout/i.test(String(error)) ? 504 : 503;
        }
      }
      outcomes.push({ face, status, ms: performance.now() - t0, phase: sentIn });
    };

    // Frames at the viewer, sampled every 50 ms: the longest gap without a new frame.
    let longestStallMs = 0;
    let lastFrames = await framesDecoded();
    let lastChange = Date.now();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const frames = await framesDecoded();
        if (frames !== lastFrames) {
          lastFrames = frames;
          lastChange = Date.now();
        } else longestStallMs = Math.max(longestStallMs, Date.now() - lastChange);
        await sleep(50);
      }
    })();

    const pending: Promise<void>[] = [];
    const started = Date.now();
    let restarted = false;
    let healthWhileDown = '';
    let framesAtStop = 0;
    let framesAtStart = 0;
    for (let i = 0; Date.now() - started < 10_000; i++) {
      pending.push(command(i % 2 === 0 ? 'rest' : 'nats'));
      if (!restarted && Date.now() - started > 3000) {
        restarted = true;
        await server.stop('SIGKILL');
        phase = 'down';
        framesAtStop = await framesDecoded();
        await sleep(700);
        healthWhileDown = (await castpool.api('GET', '/api/health')).json.status;
        pending.push(command('rest'), command('nats')); // sent while no server runs at all
        await server.start();
        framesAtStart = await framesDecoded();
        phase = 'after';
      }
      await sleep(50);
    }
    await Promise.all(pending);
    sampling = false;
    await sampler;

    const byStatus = (face: string) =>
      outcomes
        .filter((o) => o.face === face)
        .reduce<Record<number, number>>((acc, o) => {
          acc[o.status] = (acc[o.status] ?? 0) + 1;
          return acc;
        }, {});
    console.log(
      `NATS restart: rest ${JSON.stringify(byStatus('rest'))}, nats ${JSON.stringify(byStatus('nats'))}, ` +
        `slowest ${Math.round(Math.max(...outcomes.map((o) => o.ms)))} ms, longest viewer stall ${longestStallMs} ms, ` +
        `frames during the outage ${framesAtStart - framesAtStop}`,
    );
    // Commands on both faces before, during and after the outage (how many is the machine's business).
    for (const when of ['before', 'down', 'after'] as const)
      for (const face of ['rest', 'nats'])
        expect(
          outcomes.some((o) => o.phase === when && o.face === face),
          `${face} ${when}`,
        ).toBe(true);
    for (const o of outcomes) expect([200, 503, 504]).toContain(o.status);
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(5000); // nothing hangs
    // REST reaches a local session without NATS at all; NATS commands work again after the restart.
    expect(outcomes.filter((o) => o.face === 'rest').every((o) => o.status === 200)).toBe(true);
    expect(outcomes.filter((o) => o.face === 'nats').at(-1)?.status).toBe(200);
    expect(healthWhileDown).toBe('degraded');
    // Streaming never waits on NATS: frames kept coming while the server was gone, and after.
    expect(framesAtStart).toBeGreaterThan(framesAtStop);
    expect(lastFrames).toBeGreaterThan(framesAtStart);

    // The registry has exactly this session once the node is back, with its current state.
    await until(
      async () => (await castpool.api('GET', '/api/health')).json.status,
      (s) => s === 'ok',
      10_000,
    );
    const sessions = await new Kvm(jetstream(client)).open('castpool_sessions');
    const keys: string[] = [];
    for await (const key of await sessions.keys()) keys.push(key);
    expect(keys).toEqual([id]);
    const record = openEntry(await sessions.get(id));
    expect(record).toMatchObject({ owner: castpool.castpool.config.nodeId, state: 'streaming' });
    await client.close();
    await view.close();
    expect((await castpool.api('DELETE', `/api/sessions/${id}`)).status).toBe(204);
  });
});
