import { commandLatency, createThroughput } from '../nats.js';
import { type BenchSection, n } from '../section.js';
import { log } from '../util.js';

type NatsData = {
  latency: Awaited<ReturnType<typeof commandLatency>>;
  throughput: Awaited<ReturnType<typeof createThroughput>>[];
};

export const natsSection: BenchSection<NatsData> = {
  name: 'nats',
  async run(pages) {
    log('command round trips: REST vs NATS, 2000 each…');
    const latency = await commandLatency(pages.typicalUrl);
    const throughput = [];
    for (const nodes of [1, 2] as const) throughput.push(await createThroughput(pages.typicalUrl, nodes));
    return { latency, throughput };
  },
  render(natsData, when) {
    const { latency: l } = natsData;
    const rows = natsData.throughput.map(
      (t) =>
        `| ${t.nodes} | ${t.sessions} sessions, ${t.concurrency} at a time | ${n(t.seconds, 1)} s | ${n(t.perSecond, 2)} /s | ${Object.entries(
          t.placed,
        )
          .map(([node, count]) => `${node.replace(/^bench-\d-/, 'node ')}: ${count}`)
          .join(', ')} |`,
    );
    return `## Commands over NATS and REST, and creates on one or two nodes ${when}
Round trip of \`get\` for one session, ${l.rounds} sequential calls per face, interleaved, same process
and machine (REST: Node's fetch to Fastify; NATS: a request to \`castpool.sessions.get\` through the
embedded nats-server).

| face | p50 | p99 |
|---|---|---|
| REST | ${n(l.rest.p50, 2)} ms | ${n(l.rest.p99, 2)} ms |
| NATS | ${n(l.nats.p50, 2)} ms | ${n(l.nats.p99, 2)} ms |

Creates through one node's REST API (nodes share one nats-server; placement by free capacity):

| nodes | work | time | creates | placed on |
|---|---|---|---|---|
${rows.join('\n')}`;
  },
};
