import { Metrics } from '../../src/observability/metrics.js';
import { registerNodeGauges } from '../../src/observability/node-gauges.js';

/** Every series name castpool's /metrics can show (a node in a fleet, watched, with a budget). */
export async function exportedMetricNames(): Promise<Set<string>> {
  const metrics = new Metrics();
  registerNodeGauges(metrics.registry, {
    sessionsByState: () => ({ streaming: 1 }),
    sessions: () => [{ id: 's1', deliveredFps: 30, droppedFrames: 0, viewers: 1, targetFps: 30 }],
    browsers: () => 1,
    browserMemory: () => [{ hostId: 'h1', sessionIds: ['s1'], bytes: 1 }],
    natsEnabled: true,
    natsConnected: () => true,
    recordingBytes: () => 0,
    degraded: () => false,
    memoryBudgetBytes: () => 1,
    gpuKind: 'none',
    leaseAgeSeconds: () => 1,
  });
  const names = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram')
      for (const end of ['_bucket', '_sum', '_count']) names.add(metric.name + end);
  }
  return names;
}
