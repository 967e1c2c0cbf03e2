import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetSeal } from '../../src/nats/fleet-seal.js';
import { startCastpool } from '../helpers/app.js';
import { startNatsServer, type TestNatsServer } from '../helpers/nats-server.js';
import { TEST_FLEET_SECRET } from '../helpers/registry.js';
import { startTestPages } from '../helpers/test-pages.js';
import { until } from '../helpers/viewer.js';

// A process that can reach castpool's NATS and is not castpool: on the embedded server it cannot
// even connect; on a shared cluster bus (no NATS permissions set up) it can read, write and listen,
// and still gets nothing: registry values are sealed, its lease and records are not the fleet's,
// and no command between nodes carries an API token.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let pages: Awaited<ReturnType<typeof startTestPages>>;

beforeAll(async () => {
  pages = await startTestPages();
});
afterAll(async () => {
  await pages?.close();
});

describe('the embedded nats-server', () => {
  it('takes no client without the nkey castpool generated', async () => {
    const castpool = await startCastpool();
    try {
      const health = (await castpool.api('GET', '/api/health')).json;
      const [server] = health.nats.servers as string[];
      expect(server).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
      const attempt = connect({ servers: server, reconnect: false, timeout: 3000 });
      await expect(attempt).rejects.toThrow(/authorization|auth/i);
      // and castpool itself is connected through it
      expect(health.nats.status).toBe('connected');
    } finally {
      await castpool.close();
    }
  });
});

describe('a rogue client on a shared cluster bus', () => {
  let server: TestNatsServer;
  let rogue: NatsConnection;
  let castpool: Awaited<ReturnType<typeof startCastpool>>;
  const heard: Msg[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
    castpool = await startCastpool({
      nats: { url: server.url, leaseMs: 2000, heartbeatMs: 500, requestTimeoutMs: 2000 },
      fleet: { secret: TEST_FLEET_SECRET },
    });
    rogue = await connect({ servers: server.url });
    rogue.subscribe('>', {
      callback: (_error, msg) => {
        heard.push(msg);
      },
    });
  });
  afterAll(async () => {
    await rogue?.close();
    await castpool?.close();
    await server?.stop();
  });

  it('reads no saved state: registry values are sealed', async () => {
    const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/stateful') });
    const id: string = created.json.id;
    await until(
      async () => (await castpool.api('GET', `/api/sessions/${id}`)).json.lastNavigation,
      Boolean,
      10_000,
    );
    expect((await castpool.api('POST', `/api/sessions/${id}/hibernate`)).json.state).toBe('hibernated');
    const sessions = await new Kvm(jetstream(rogue)).open('castpool_sessions');
    const entry = await sessions.get(id);
    expect(entry?.operation).toBe('PUT');
    const raw = Buffer.from(entry?.value ?? []).toString('latin1');
    for (const secret of ['stateful', 'who=castpool', 'visits', 'localStorage'])
      expect(raw).not.toContain(secret);
    expect(() => entry?.json()).toThrow();
    // a member (the fleet secret) reads it
    const opened = new FleetSeal(TEST_FLEET_SECRET).open(
      entry?.value ?? new Uint8Array(),
      `castpool_sessions/${id}`,
    );
    expect(opened).toMatchObject({ id, state: 'hibernated', saved: { url: pages.url('/stateful') } });
    await castpool.api('DELETE', `/api/sessions/${id}`);
  });

  it('a fake node lease is ignored: nothing is forwarded to it, listing stays healthy', async () => {
    const kvm = new Kvm(jetstream(rogue));
    const nodes = await kvm.open('castpool_nodes');
    const forwarded: Msg[] = [];
    rogue.subscribe('castpool.nodes.rogue.>', {
      callback: (_error, msg) => {
        forwarded.push(msg);
        msg.respond('garbage');
      },
    });
    const lease = {
      node: 'rogue',
      url: 'http://127.0.0.1:1',
      maxSessions: 1000,
      active: 0,
      cpu: 0,
      startedAt: new Date().toISOString(),
      renewedAt: new Date().toISOString(),
    };
    for (let i = 0; i < 4; i++) {
      await nodes.put('rogue', JSON.stringify(lease));
      const listed = await castpool.api('GET', '/api/sessions');
      expect(listed.status).toBe(200);
      await sleep(300);
    }
    // The most free capacity "by lease" is the rogue's; the create stays here.
    const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/static') });
    expect(created.status).toBe(201);
    expect(created.json.node).toBe(castpool.castpool.config.nodeId);
    expect(forwarded).toEqual([]);
    await castpool.api('DELETE', `/api/sessions/${created.json.id}`);
  });

  it('an injected record is never adopted: not one without the seal, not a sealed one for file://', async () => {
    const sessions = await new Kvm(jetstream(rogue)).open('castpool_sessions');
    const spec = {
      url: 'file:///etc/passwd',
      viewport: { width: 640, height: 360 },
      fps: 5,
      quality: 50,
      capture: 'screencast',
      priority: 5,
    };
    const record = (id: string) => ({
      id,
      owner: 'dead-node',
      state: 'idle',
      spec,
      updatedAt: new Date().toISOString(),
    });
    await sessions.put('injected-plain', JSON.stringify(record('injected-plain')));
    const seal = new FleetSeal(TEST_FLEET_SECRET);
    await sessions.put(
      'injected-sealed',
      seal.seal(record('injected-sealed'), 'castpool_sessions/injected-sealed'),
    );
    // A record for one key sealed under another is not that session either.
    await sessions.put(
      'injected-moved',
      seal.seal(
        { ...record('injected-moved'), spec: { ...spec, url: pages.url('/static') } },
        'castpool_sessions/elsewhere',
      ),
    );
    // Several leases and fleet checks: a dead node's session would be taken by now.
    await sleep(4000);
    for (const id of ['injected-plain', 'injected-moved'])
      expect((await castpool.api('GET', `/api/sessions/${id}`)).status, id).toBe(404);
    // The sealed one names a dead owner that nobody may take over here: never a session of this node.
    expect((await castpool.api('GET', '/api/sessions/injected-sealed')).status).not.toBe(200);
    expect(castpool.castpool.pool.getSnapshot().context.sessions['injected-sealed']).toBeUndefined();
    expect(
      castpool.castpool.processes.list().filter((p) => p.kind === 'chromium').length,
    ).toBeLessThanOrEqual(1);
    const listed = (await castpool.api('GET', '/api/sessions')).json.sessions as { id: string }[];
    expect(listed.map((s) => s.id)).not.toContain('injected-sealed');
  });

  it('heard nothing on `>` that carries an API token, a page URL or saved state', () => {
    expect(heard.length).toBeGreaterThan(10); // it did hear the bus: events, leases, registry writes
    for (const msg of heard) {
      expect(msg.headers?.get('Authorization') ?? '').toBe('');
      const text = Buffer.from(msg.data).toString('latin1');
      expect(text).not.toContain(pages.url('/stateful'));
      expect(text).not.toContain('who=castpool');
    }
  });
});
