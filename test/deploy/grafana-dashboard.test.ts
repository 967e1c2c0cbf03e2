import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exportedMetricNames } from '../helpers/exported-metrics.js';

interface Panel {
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: { expr: string }[];
}
const dashboard = JSON.parse(readFileSync('deploy/grafana/dashboards/castpool.json', 'utf8')) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; definition: string }[] };
};

describe('the Grafana dashboard (deploy/grafana)', () => {
  it('queries only metrics castpool exports, through the provisioned Prometheus', async () => {
    const exported = await exportedMetricNames();
    const queries = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
      ...dashboard.templating.list.map((v) => v.definition),
    ];
    const named = new Set(queries.flatMap((q) => [...q.matchAll(/\bcastpool_\w+/g)].map(([name]) => name)));
    expect(named.size).toBeGreaterThan(15);
    expect([...named].filter((name) => !exported.has(name))).toEqual([]);
    // Scraped under the job the alerting rules expect.
    for (const query of queries) if (query.includes('castpool_')) expect(query).toContain('job="castpool"');
    const sources = parse(readFileSync('deploy/grafana/provisioning/datasources/prometheus.yml', 'utf8')) as {
      datasources: { uid: string; url: string }[];
    };
    const uid = sources.datasources[0]?.uid;
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row'))
      expect(panel.datasource?.uid, panel.title).toBe(uid);
    expect(sources.datasources[0]?.url).toBe('http://prometheus:9090');
  });

  it('shows the fleet, a node and a session', () => {
    const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(['Fleet', 'Node', 'Session']);
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['instance', 'session']);
    const provider = parse(readFileSync('deploy/grafana/provisioning/dashboards/castpool.yml', 'utf8')) as {
      providers: { options: { path: string } }[];
    };
    expect(provider.providers[0]?.options.path).toBe('/var/lib/grafana/dashboards');
  });
});
