import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionTransition } from '../../src/observability/events.js';
import { startCastpool } from '../helpers/app.js';
import { openEntry, TEST_FLEET_SECRET } from '../helpers/registry.js';
import { startTestPages } from '../helpers/test-pages.js';
import { until } from '../helpers/viewer.js';

let castpool: Awaited<ReturnType<typeof startCastpool>>;
let pages: Awaited<ReturnType<typeof startTestPages>>;
let nc: NatsConnection;

beforeAll(async () => {
  pages = await startTestPages();
  castpool = await startCastpool({ fleet: { secret: TEST_FLEET_SECRET } });
  nc = castpool.nats.connection() as NatsConnection;
});

afterAll(async () => {
  await castpool?.close();
  await pages?.close();
});

type Transition = SessionTransition;

/** Reads Server-Sent Events from castpool's /api/events into `into` until aborted. */
async function readSse(url: string, into: { event: string; data: Transition }[], signal: AbortSignal) {
  const response = await fetch(url, { signal });
  expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (event && data) into.push({ event, data: JSON.parse(data) });
        end = buffer.indexOf('\n\n');
      }
    }
  } catch {
    // aborted
  }
}

describe('events and the session registry, on a real nats-server', () => {
  it('publishes every transition on castpool.events.<id>.<state>, the same as /api/events', async () => {
    const published: { subject: string; event: Transition }[] = [];
    const subscription = nc.subscribe('castpool.events.>', {
      callback: (_error, msg) => {
        published.push({ subject: msg.subject, event: msg.json<Transition>() });
      },
    });
    const streamed: { event: string; data: Transition }[] = [];
    const abort = new AbortController();
    const sse = readSse(`${castpool.base}/api/events`, streamed, abort.signal);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/stateful') });
    const id: string = created.json.id;
    await castpool.api('POST', `/api/sessions/${id}/hibernate`);
    await castpool.api('POST', `/api/sessions/${id}/resume`);
    expect((await castpool.api('DELETE', `/api/sessions/${id}`)).status).toBe(204);
    await until(
      () => published.filter((p) => p.event.sessionId === id && p.event.to === 'closed').length,
      (n) => n > 0,
      5000,
    );
    const expected = [
      [null, 'launching'],
      ['launching', 'idle'],
      ['idle', 'hibernating'],
      ['hibernating', 'hibernated'],
      ['hibernated', 'resuming'],
      ['resuming', 'launching'],
      ['launching', 'idle'],
      ['idle', 'closing'],
      ['closing', 'closed'],
    ];
    const mine = published.filter((p) => p.event.sessionId === id);
    expect(mine.map((p) => [p.event.from, p.event.to])).toEqual(expected);
    expect(mine.map((p) => p.subject)).toEqual(expected.map(([, to]) => `castpool.events.${id}.${to}`));
    const hibernated = mine.find((p) => p.event.to === 'hibernated')?.event;
    expect(hibernated).toMatchObject({ node: castpool.castpool.config.nodeId, reason: 'requested' });
    expect(Date.parse(hibernated?.time ?? '')).toBeGreaterThan(Date.now() - 60_000);

    await until(
      () => streamed.filter((s) => s.data.sessionId === id && s.data.to === 'closed').length,
      (n) => n > 0,
      5000,
    );
    abort.abort();
    await sse;
    const viaSse = streamed.filter((s) => s.event === 'session' && s.data.sessionId === id);
    expect(viaSse.map((s) => [s.data.from, s.data.to])).toEqual(expected);
    subscription.unsubscribe();
  });

  it('keeps every session in the KV registry (owner, state, spec, saved state) and the node lease', async () => {
    const kvm = new Kvm(jetstream(nc));
    const sessions = await kvm.open('castpool_sessions');
    const nodes = await kvm.open('castpool_nodes');
    const created = await castpool.api('POST', '/api/sessions', { url: pages.url('/stateful'), fps: 20 });
    const id: string = created.json.id;
    const record = async () => openEntry(await sessions.get(id));
    const idle = await until(record, (r) => r?.state === 'idle', 5000);
    expect(idle).toMatchObject({
      id,
      owner: castpool.castpool.config.nodeId,
      spec: { url: pages.url('/stateful'), fps: 20, capture: 'tab', priority: 5 },
    });
    await until(
      async () => (await castpool.api('GET', `/api/sessions/${id}`)).json.lastNavigation,
      Boolean,
      10_000,
    ); // loaded: its script has counted the visit
    await castpool.api('POST', `/api/sessions/${id}/hibernate`);
    const hibernated = await until(record, (r) => r?.state === 'hibernated', 5000);
    expect(hibernated).toMatchObject({ reason: 'requested', saved: { url: pages.url('/stateful') } });
    expect(
      (hibernated?.saved as { localStorage?: Record<string, string> } | undefined)?.localStorage?.visits,
    ).toBe('1');
    // Sealed at rest: neither the URL nor the saved storage is readable without the fleet's key.
    const raw = Buffer.from((await sessions.get(id))?.value ?? []).toString('latin1');
    expect(raw).not.toContain('stateful');
    expect(raw).not.toContain('visits');

    const lease = openEntry(await nodes.get(castpool.castpool.config.nodeId));
    expect(lease).toMatchObject({ node: castpool.castpool.config.nodeId, maxSessions: 16 });
    expect(lease?.url).toBe(castpool.base);

    await castpool.api('DELETE', `/api/sessions/${id}`);
    await until(
      async () => (await sessions.get(id))?.operation,
      (op) => op !== 'PUT',
      5000,
    );
    expect((await sessions.get(id))?.operation).not.toBe('PUT');
  });

  it('reports the NATS connection in /api/health', async () => {
    // Internals only for an operator: without API tokens configured, every caller is one.
    const health = (await castpool.api('GET', '/api/health')).json;
    expect(health).toMatchObject({
      status: 'ok',
      node: castpool.castpool.config.nodeId,
      nats: { status: 'connected', embedded: true },
    });
  });
});
