import { groupPssMb } from '../actors/memory.js';
import { budgetTotalFps } from '../machines/capture-budget.js';
import { budgetDemands, isDegraded, type PoolContext } from '../machines/pool.machine.js';
import { sessionStateName } from '../machines/session.machine.js';
import type { Castpool } from '../system.js';
import { capacityOf } from './admission.js';
import { sessionView } from './view.js';

/** Browser PSS is read from /proc (one file per process): at most once per this period, whoever asks. */
const MEMORY_READ_EVERY_MS = 2000;

export interface BrowserMemory {
  hostId: string;
  sessionIds: string[];
  bytes: number;
}

/**
 * What this node is doing, read from the pool's snapshot: the one read model behind `/api/info`,
 * the Prometheus gauges and fleet leases (capacity is the admission guard's own decision).
 */
export class NodeInfo {
  /** The last PSS read of each browser host. */
  private pss = new Map<string, { at: number; bytes: number }>();

  constructor(private readonly castpool: Castpool) {}

  private get context(): PoolContext {
    return this.castpool.pool.getSnapshot().context;
  }

  capacity() {
    return capacityOf(this.context);
  }

  sessions() {
    const node = this.castpool.config.nodeId;
    return Object.entries(this.context.sessions).map(([id, entry]) => sessionView(node, id, entry.ref));
  }

  sessionsByState(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const { ref } of Object.values(this.context.sessions)) {
      const state = sessionStateName(ref.getSnapshot().value);
      counts[state] = (counts[state] ?? 0) + 1;
    }
    return counts;
  }

  browsers(): number {
    return Object.keys(this.context.hosts).length;
  }

  /** PSS of each browser's process tree with the sessions it holds now (PSS read at most once a period). */
  browserMemory(): BrowserMemory[] {
    const now = Date.now();
    const chromium = this.castpool.processes.list().filter((p) => p.kind === 'chromium');
    const measured = new Map<string, { at: number; bytes: number }>();
    const browsers = Object.entries(this.context.hosts).map(([hostId, host]) => {
      let pss = this.pss.get(hostId);
      if (!pss || now - pss.at >= MEMORY_READ_EVERY_MS) {
        const pgids = chromium.filter((p) => p.owner === hostId).map((p) => p.pid);
        pss = { at: now, bytes: groupPssMb(pgids) * 1024 * 1024 };
      }
      measured.set(hostId, pss);
      return { hostId, sessionIds: host.sessionIds, bytes: pss.bytes };
    });
    this.pss = measured; // closed browsers are forgotten
    return browsers;
  }

  /** The GPU castpool uses (kind none: software, with why). */
  gpu() {
    const { gpu } = this.castpool;
    return gpu.kind === 'none'
      ? { kind: gpu.kind, reason: gpu.reason }
      : { kind: gpu.kind, device: gpu.device, encoder: gpu.encoder };
  }

  /** The pool's capture budget and every watched session's share of it. */
  captureBudget() {
    const context = this.context;
    const policy = context.captureBudget;
    if (!policy) return null;
    const demands = budgetDemands(context);
    return {
      hostCpu: Math.round(context.budget.cpu * 1000) / 1000,
      totalFps: budgetTotalFps(policy, context.budget),
      ceilingFps: policy.totalFps > 0 ? policy.totalFps : null,
      cpuLimitFps: context.budget.cpuLimitFps,
      demandFps: demands.reduce((sum, d) => sum + d.fps, 0),
      deliveredFps: Math.round(demands.reduce((sum, d) => sum + d.deliveredFps, 0) * 10) / 10,
      sessions: demands.map((d) => ({
        id: d.sessionId,
        priority: d.priority,
        wantsFps: d.fps,
        shareFps: context.shares[d.sessionId] ?? d.fps,
        deliveredFps: d.deliveredFps,
      })),
    };
  }

  /** `/api/info` without what only the HTTP layer knows (NATS status, uptime, inspector). */
  summary() {
    const context = this.context;
    const { maxSessions, active, available } = this.capacity();
    const browsersPss = this.browserMemory().reduce((sum, b) => sum + b.bytes, 0) / 1024 / 1024;
    return {
      node: this.castpool.config.nodeId,
      capacity: { maxSessions, active, available },
      sessionsPerBrowser: context.sessionsPerBrowser,
      browsers: this.browsers(),
      sessionsByState: this.sessionsByState(),
      shuttingDown: context.shuttingDown,
      degraded: isDegraded(context),
      gpu: this.gpu(),
      memory: {
        browsersPssMb: Math.round(browsersPss),
        budgetMb: this.castpool.config.supervision.memoryBudgetMb,
      },
      recentLaunchFailures: context.launchFailures.length,
      captureBudget: this.captureBudget(),
    };
  }
}
