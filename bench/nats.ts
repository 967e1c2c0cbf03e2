/** NATS benchmarks: command round trips over NATS vs REST, and create throughput on 1 vs 2 nodes. */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedNats } from '../src/nats/embedded-server.js';
import { ProcessTracker } from '../src/processes/tracker.js';
import { benchRoot, log, percentile, startService, VIEWPORT } from './util.js';

/** Sequential `get` of one session, `rounds` times per face, interleaved so both see the same machine. */
export async function commandLatency(url: string, rounds = 2000) {
  const { app, base, nats } = await startService();
  try {
    const created = await fetch(`${base}/api/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url, viewport: VIEWPORT }),
    });
    const { id } = (await created.json()) as { id: string };
    const nc = nats.connection();
    if (!nc) throw new Error('no NATS connection');
    const payload = JSON.stringify({ id });
    const rest: number[] = [];
    const overNats: number[] = [];
    for (let i = 0; i < rounds + 100; i++) {
      let t0 = performance.now();
      await (await fetch(`${base}/api/sessions/${id}`)).json();
      const restMs = performance.now() - t0;
      t0 = performance.now();
      (await nc.request('castpool.sessions.get', payload, { timeout: 5000 })).json();
      const natsMs = performance.now() - t0;
      if (i < 100) continue; // warm-up
      rest.push(restMs);
      overNats.push(natsMs);
    }
    const stats = (values: number[]) => ({ p50: percentile(values, 50), p99: percentile(values, 99) });
    return { rounds, rest: stats(rest), nats: stats(overNats) };
  } finally {
    await app.close();
  }
}

/** Sessions created per second through one node's REST API, with 1 node or 2 sharing the load. */
export async function createThroughput(url: string, nodes: 1 | 2, sessions = 12, concurrency = 4) {
  const processes = new ProcessTracker();
  const server = await startEmbeddedNats({
    binary: 'nats-server',
    storeDir: mkdtempSync(join(benchRoot(), 'nats-')),
    port: 0,
    name: `bench-${nodes}`,
    processes,
  });
  const services = [];
  try {
    for (let n = 0; n < nodes; n++)
      services.push(
        await startService({
          nodeId: `bench-${nodes}-${n}`,
          maxSessions: sessions,
          nats: { url: server.url, heartbeatMs: 300 },
        }),
      );
    await new Promise((resolve) => setTimeout(resolve, 1000)); // leases out
    const entry = services[0] as (typeof services)[number];
    let next = 0;
    const placed: Record<string, number> = {};
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < sessions) {
          next++;
          const response = await fetch(`${entry.base}/api/sessions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ url, viewport: VIEWPORT }),
          });
          const body = (await response.json()) as { node?: string; message?: string };
          if (response.status !== 201) throw new Error(`create answered ${response.status}: ${body.message}`);
          placed[body.node as string] = (placed[body.node as string] ?? 0) + 1;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    log(`create throughput, ${nodes} node(s): ${sessions} sessions in ${seconds.toFixed(1)} s`);
    return { nodes, sessions, concurrency, seconds, perSecond: sessions / seconds, placed };
  } finally {
    for (const service of services) await service.app.close();
    await server.stop();
    processes.dispose();
  }
}
