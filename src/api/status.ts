import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Gauge } from 'prom-client';
import { bearerOf } from '../access/index.js';
import { groupPssMb } from '../actors/memory.js';
import type { Commands, SessionView } from '../commands/index.js';
import type { NatsFace } from '../fleet/index.js';
import { budgetTotalFps } from '../machines/capture-budget.js';
import { activeSessionCount, budgetDemands, isDegraded, type PoolContext } from '../machines/pool.machine.js';
import type { Inspection } from '../observability/inspection.js';
import type { Castpool } from '../system.js';

const version = process.env.npm_package_version ?? '0.1.0';

/** The pool's capture budget and every watched session's share of it. */
function captureBudgetReport(context: PoolContext) {
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

/** Health, capacity/info and Prometheus metrics. */
export const statusRoutes: FastifyPluginAsyncTypebox<{
  castpool: Castpool;
  commands: Commands;
  nats: NatsFace;
  inspection: Inspection | undefined;
}> = async (app, { castpool, commands, nats, inspection }) => {
  const startedAt = Date.now();
  const byState = () => {
    const counts: Record<string, number> = {};
    for (const { state } of commands.sessions.list().sessions) counts[state] = (counts[state] ?? 0) + 1;
    return counts;
  };

  app.get(
    '/api/health',
    {
      config: { access: 'open' },
      schema: {
        summary:
          'Liveness; degraded while NATS is not connected. Details (node, NATS) only for an API token, or when none is configured',
        response: {
          200: Type.Object({
            status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
            node: Type.Optional(Type.String()),
            nats: Type.Optional(
              Type.Object(
                {
                  status: Type.String(),
                  servers: Type.Array(Type.String()),
                  embedded: Type.Boolean(),
                  downSince: Type.Optional(Type.String()),
                  error: Type.Optional(Type.String()),
                },
                { additionalProperties: true },
              ),
            ),
          }),
        },
      },
    },
    async (request) => {
      const health = nats.health();
      const status = health.status === 'connected' ? ('ok' as const) : ('degraded' as const);
      // An open route: internals (where NATS listens, node names) only for an operator.
      const { tokens } = castpool.access;
      if (tokens.required && !tokens.apiTokenName(bearerOf(request.headers.authorization))) return { status };
      const { node, ...natsStatus } = health;
      return { status, node, nats: natsStatus };
    },
  );

  app.get('/api/info', { schema: { summary: 'Capacity, sessions by state, version' } }, async () => {
    const context = castpool.pool.getSnapshot().context;
    const active = activeSessionCount(context);
    return {
      name: 'castpool',
      version,
      node: castpool.config.nodeId,
      nats: nats.health(),
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      capacity: {
        maxSessions: context.maxSessions,
        active,
        available: Math.max(0, context.maxSessions - active),
      },
      sessionsPerBrowser: context.sessionsPerBrowser,
      browsers: Object.keys(context.hosts).length,
      sessionsByState: byState(),
      shuttingDown: context.shuttingDown,
      degraded: isDegraded(context),
      memory: {
        browsersPssMb: Math.round(
          groupPssMb(
            castpool.processes
              .list()
              .filter((p) => p.kind === 'chromium')
              .map((p) => p.pid),
          ),
        ),
        budgetMb: castpool.config.supervision.memoryBudgetMb,
      },
      recentLaunchFailures: context.launchFailures.length,
      captureBudget: captureBudgetReport(context),
      inspector: inspection ? { page: inspection.pageUrl, webSocket: inspection.wsUrl } : null,
    };
  });

  const { registry } = castpool.metrics;
  new Gauge({
    name: 'castpool_sessions',
    help: 'Sessions by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [state, count] of Object.entries(byState())) this.set({ state }, count);
    },
  });
  const perSession = (name: string, help: string, pick: (v: SessionView) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['session'],
      registers: [registry],
      collect() {
        this.reset();
        for (const view of commands.sessions.list().sessions) this.set({ session: view.id }, pick(view));
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
    name: 'castpool_browsers',
    help: 'Chromium processes (browser hosts)',
    registers: [registry],
    collect() {
      this.set(Object.keys(castpool.pool.getSnapshot().context.hosts).length);
    },
  });

  // PSS of each browser's process tree, and that split over its sessions (they share the browser).
  const browserPss = () => {
    const { hosts } = castpool.pool.getSnapshot().context;
    const chromium = castpool.processes.list().filter((p) => p.kind === 'chromium');
    return Object.entries(hosts).map(([hostId, host]) => ({
      hostId,
      sessionIds: host.sessionIds,
      bytes: groupPssMb(chromium.filter((p) => p.owner === hostId).map((p) => p.pid)) * 1024 * 1024,
    }));
  };
  let lastPss: ReturnType<typeof browserPss> = [];
  new Gauge({
    name: 'castpool_browser_pss_bytes',
    help: 'PSS of one Chromium process tree',
    labelNames: ['browser'],
    registers: [registry],
    collect() {
      this.reset();
      lastPss = browserPss();
      for (const host of lastPss) this.set({ browser: host.hostId }, host.bytes);
    },
  });
  new Gauge({
    name: 'castpool_session_memory_bytes',
    help: "A session's share of its browser tree's PSS (browser PSS / its sessions)",
    labelNames: ['session'],
    registers: [registry],
    collect() {
      this.reset();
      for (const host of lastPss.length > 0 ? lastPss : browserPss())
        for (const id of host.sessionIds) this.set({ session: id }, host.bytes / host.sessionIds.length);
    },
  });

  new Gauge({
    name: 'castpool_nats_connected',
    help: '1 while connected to NATS',
    registers: [registry],
    collect() {
      this.set(nats.health().status === 'connected' ? 1 : 0);
    },
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
};
