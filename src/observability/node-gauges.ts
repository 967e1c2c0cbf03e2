import { Gauge, type Registry } from 'prom-client';

/** What the node gauges read at each scrape (the command layer's `NodeInfo`, the fleet's health). */
export interface NodeGaugeSource {
  sessionsByState(): Record<string, number>;
  sessions(): {
    id: string;
    deliveredFps: number;
    droppedFrames: number;
    viewers: number;
    /** What a watched session should deliver now (its share of the capture budget, else its fps). */
    targetFps: number | null;
  }[];
  browsers(): number;
  browserMemory(): { hostId: string; sessionIds: string[]; bytes: number }[];
  /** NATS is configured: the NATS and lease gauges exist (without it there is nothing to lose). */
  natsEnabled: boolean;
  natsConnected(): boolean;
  /** Bytes this node's recordings take on disk. */
  recordingBytes(): number;
  /** The pool refuses new sessions after repeated browser launch failures. */
  degraded(): boolean;
  /** `supervision.memoryBudgetMb` in bytes (0: no budget). */
  memoryBudgetBytes(): number;
  /** The GPU castpool uses: none, vaapi or nvenc. */
  gpuKind: string;
  /** Seconds since this node's fleet lease was renewed; undefined before the first renewal. */
  leaseAgeSeconds(): number | undefined;
}

/** Gauges computed at scrape time from the node's read model (nothing is kept up to date in between). */
export function registerNodeGauges(registry: Registry, source: NodeGaugeSource): void {
  new Gauge({
    name: 'castpool_sessions',
    help: 'Sessions by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [state, count] of Object.entries(source.sessionsByState())) this.set({ state }, count);
    },
  });
  type View = ReturnType<NodeGaugeSource['sessions']>[number];
  const perSession = (name: string, help: string, pick: (v: View) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['session'],
      registers: [registry],
      collect() {
        this.reset();
        for (const view of source.sessions()) this.set({ session: view.id }, pick(view));
      },
    });
  perSession(
    'castpool_session_delivered_fps',
    'Encoded frames per second sent to viewers',
    (v) => v.deliveredFps,
  );
  perSession(
    'castpool_session_dropped_frames',
    'Frames skipped since the session started',
    (v) => v.droppedFrames,
  );
  perSession('castpool_session_viewers', 'Connected WHEP viewers', (v) => v.viewers);
  new Gauge({
    name: 'castpool_session_target_fps',
    help: 'What a watched session should deliver now: its share of the capture budget, else its fps (watched sessions only)',
    labelNames: ['session'],
    registers: [registry],
    collect() {
      this.reset();
      for (const view of source.sessions())
        if (view.targetFps !== null) this.set({ session: view.id }, view.targetFps);
    },
  });
  new Gauge({
    name: 'castpool_browsers',
    help: 'Chromium processes (browser hosts)',
    registers: [registry],
    collect() {
      this.set(source.browsers());
    },
  });
  // PSS of each browser's process tree, and that split over its sessions (they share the browser).
  new Gauge({
    name: 'castpool_browser_pss_bytes',
    help: 'PSS of one Chromium process tree',
    labelNames: ['browser'],
    registers: [registry],
    collect() {
      this.reset();
      for (const host of source.browserMemory()) this.set({ browser: host.hostId }, host.bytes);
    },
  });
  new Gauge({
    name: 'castpool_session_memory_bytes',
    help: "A session's share of its browser tree's PSS (browser PSS / its sessions)",
    labelNames: ['session'],
    registers: [registry],
    collect() {
      this.reset();
      for (const host of source.browserMemory())
        for (const id of host.sessionIds) this.set({ session: id }, host.bytes / host.sessionIds.length);
    },
  });
  new Gauge({
    name: 'castpool_recording_bytes',
    help: "Bytes this node's recordings take on disk (limit: recordings.maxTotalMb)",
    registers: [registry],
    collect() {
      this.set(source.recordingBytes());
    },
  });
  new Gauge({
    name: 'castpool_pool_degraded',
    help: '1 while the pool refuses new sessions after repeated browser launch failures',
    registers: [registry],
    collect() {
      this.set(source.degraded() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'castpool_gpu',
    help: 'The GPU castpool found at start and uses (kind: none, vaapi, nvenc): always 1',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.set({ kind: source.gpuKind }, 1);
    },
  });
  new Gauge({
    name: 'castpool_memory_budget_bytes',
    help: "The browsers' memory budget (supervision.memoryBudgetMb; 0: none): idle sessions hibernate above it",
    registers: [registry],
    collect() {
      this.set(source.memoryBudgetBytes());
    },
  });
  if (source.natsEnabled) registerFleetGauges(registry, source);
}

/** Only where NATS is configured: a node without it has no fleet to be cut off from. */
function registerFleetGauges(registry: Registry, source: NodeGaugeSource): void {
  new Gauge({
    name: 'castpool_nats_connected',
    help: '1 while connected to NATS',
    registers: [registry],
    collect() {
      this.set(source.natsConnected() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'castpool_lease_age_seconds',
    help: 'Seconds since this node renewed its fleet lease (others take its sessions over once it lapses; NaN before the first)',
    registers: [registry],
    collect() {
      this.set(source.leaseAgeSeconds() ?? Number.NaN);
    },
  });
}
