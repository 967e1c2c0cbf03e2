import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { bearerOf } from '../access/index.js';
import type { Commands } from '../commands/index.js';
import type { NatsFace } from '../fleet/index.js';
import type { Inspection } from '../observability/inspection.js';
import { registerNodeGauges } from '../observability/node-gauges.js';
import type { Castpool } from '../system.js';

const version = process.env.npm_package_version ?? '0.1.0';

/** Health, capacity/info and Prometheus metrics. */
export const statusRoutes: FastifyPluginAsyncTypebox<{
  castpool: Castpool;
  commands: Commands;
  nats: NatsFace;
  inspection: Inspection | undefined;
}> = async (app, { castpool, commands, nats, inspection }) => {
  const startedAt = Date.now();
  const { info } = commands;

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
      // Without NATS by configuration the node is whole; with NATS configured, its absence degrades it.
      const whole = health.status === 'connected' || health.status === 'disabled';
      const status = whole ? ('ok' as const) : ('degraded' as const);
      // An open route: internals (where NATS listens, node names) only for an operator.
      const { tokens } = castpool.access;
      if (tokens.required && !tokens.apiTokenName(bearerOf(request.headers.authorization))) return { status };
      const { node, ...natsStatus } = health;
      return { status, node, nats: natsStatus };
    },
  );

  app.get('/api/info', { schema: { summary: 'Capacity, sessions by state, version' } }, async () => {
    const { node, ...summary } = info.summary();
    return {
      name: 'castpool',
      version,
      node,
      nats: nats.health(),
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      ...summary,
      inspector: inspection ? { page: inspection.pageUrl, webSocket: inspection.wsUrl } : null,
    };
  });

  const { registry } = castpool.metrics;
  registerNodeGauges(registry, {
    sessionsByState: () => info.sessionsByState(),
    sessions: () =>
      info.sessions().map((view) => ({
        ...view,
        targetFps: view.viewers > 0 ? (view.shareFps ?? view.targetFps) : null,
      })),
    browsers: () => info.browsers(),
    browserMemory: () => info.browserMemory(),
    natsEnabled: castpool.config.nats.enabled,
    natsConnected: () => nats.health().status === 'connected',
    recordingBytes: () => castpool.recordingSpace.totalBytes,
    degraded: () => info.summary().degraded,
    memoryBudgetBytes: () => castpool.config.supervision.memoryBudgetMb * 1024 * 1024,
    gpuKind: castpool.gpu.kind,
    leaseAgeSeconds: () => nats.leaseAgeSeconds(),
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
};
