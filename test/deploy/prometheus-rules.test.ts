import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exportedMetricNames } from '../helpers/exported-metrics.js';
import { injectCastpool } from '../helpers/inject.js';

const run = promisify(execFile);
const RULES = 'deploy/prometheus/castpool-alerts.yml';

describe('the Prometheus alerting rules (deploy/prometheus)', () => {
  it('pass promtool check rules and their promtool unit tests', async () => {
    const checked = await run('promtool', ['check', 'rules', RULES]);
    expect(checked.stdout).toMatch(/SUCCESS: 10 rules found/);
    const tested = await run('promtool', ['test', 'rules', 'deploy/prometheus/castpool-alerts.test.yml']);
    expect(tested.stdout).toMatch(/SUCCESS/);
  });

  it('name only metrics castpool exports, and every rule has a test that fires it', async () => {
    const rules = parse(readFileSync(RULES, 'utf8')) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const exported = await exportedMetricNames();
    const named = new Set<string>();
    for (const group of rules.groups)
      for (const rule of group.rules)
        for (const [name] of rule.expr.matchAll(/\bcastpool_\w+/g)) named.add(name);
    expect(named.size).toBeGreaterThan(8);
    expect([...named].filter((name) => !exported.has(name))).toEqual([]);
    const tests = parse(readFileSync('deploy/prometheus/castpool-alerts.test.yml', 'utf8')) as {
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const fired = new Set(
      tests.tests.flatMap((t) =>
        t.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
      ),
    );
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts.filter((alert) => !fired.has(alert))).toEqual([]);
  });

  it("are fed by a node's /metrics: a node without NATS shows no NATS gauge to alert on", async () => {
    const castpool = await injectCastpool({ supervision: { memoryBudgetMb: 512 } });
    try {
      const text = (await castpool.api('GET', '/metrics')).text;
      expect(text).toMatch(/^castpool_pool_degraded 0$/m);
      expect(text).toMatch(/^castpool_memory_budget_bytes 536870912$/m);
      expect(text).not.toMatch(/^castpool_nats_connected /m);
      expect(text).not.toMatch(/^castpool_lease_age_seconds /m);
      expect(text).toMatch(/^# TYPE castpool_viewer_connections_total counter$/m);
    } finally {
      await castpool.close();
    }
  });
});
