import type { NatsConnection } from '@nats-io/nats-core';
import { type Service, type ServiceMsg, Svcm } from '@nats-io/services';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { type Access, bearerOf } from '../access/index.js';
import type { CommandSurface } from '../commands/index.js';
import { withLinks, withViewUrl } from '../commands/links.js';
import {
  type NodeOperationName,
  type OperationName,
  operationNames,
  operations,
  type Presentation,
} from '../commands/operations.js';
import type { MintedViewerToken, SessionList, SessionView } from '../commands/results.js';
import { CastpoolError } from '../errors.js';
import type { FleetSeal } from '../nats/fleet-seal.js';
import { answer, type ErrorReply, openSealedRequest, parsePayload } from '../nats/rpc.js';
import { countRefusal, type Metrics } from '../observability/metrics.js';
import type { FleetRouter } from './router.js';

const version = process.env.npm_package_version ?? '0.1.0';

/** The payload, checked against the operation's input schema; 400 naming the first problems otherwise. */
function validated(schema: TSchema, payload: unknown): never {
  if (Value.Check(schema, payload)) return payload as never;
  const problems = [...Value.Errors(schema, payload)]
    .slice(0, 3)
    .map((e) => `${e.path || '/'} ${e.message}`)
    .join('; ');
  throw new CastpoolError('bad_request', `invalid payload: ${problems}`);
}

/** A result as clients see it (the same JSON as REST): links on sessions, a view URL on tokens. */
export function present(how: Presentation, result: unknown, base: string): unknown {
  switch (how) {
    case 'session':
      return withLinks(base, result as SessionView);
    case 'sessions':
      return { sessions: (result as SessionList).sessions.map((view) => withLinks(base, view)) };
    case 'viewer-token':
      return withViewUrl(base, result as MintedViewerToken);
    case 'as-is':
      return result;
  }
}

/**
 * The NATS face, on the services framework (discoverable with `nats micro`), derived from the
 * operation table: `<prefix>.sessions.<op>` for the operations marked `client` (any node answers,
 * queue group; the same API tokens as REST in an `Authorization: Bearer` header), and
 * `<prefix>.nodes.<node>.<op>` for every node operation, which other nodes use to reach a session's
 * owner (sealed by a member of the fleet: no API token travels between nodes).
 */
export async function startService(
  nc: NatsConnection,
  options: {
    prefix: string;
    node: string;
    surface: CommandSurface;
    router: FleetRouter;
    baseUrl: () => string;
    access: Access;
    metrics: Metrics;
    seal: FleetSeal;
  },
): Promise<Service> {
  const { prefix, node, surface, router, access } = options;
  const counted = (reply: ErrorReply) => countRefusal(options.metrics, reply.error);
  const service = await new Svcm(nc).add({
    name: prefix,
    version,
    description: 'castpool: live headless-Chromium sessions over WebRTC',
    metadata: { node },
  });

  const clients = service.addGroup(`${prefix}.sessions`);
  const own = service.addGroup(`${prefix}.nodes.${node}`, `node-${node}`);
  for (const name of operationNames) {
    const spec = operations[name];
    if (spec.client)
      clients.addEndpoint(name, {
        metadata: { description: `castpool ${name} (same JSON as REST)` },
        handler: (_error, msg) => void answer(msg, () => clientCall(name, msg), counted),
      });
    if (spec.runs !== 'entry')
      own.addEndpoint(`node-${name.replace('.', '-')}`, {
        subject: name,
        handler: (_error, msg) =>
          void answer(
            msg,
            () =>
              router.runHere(
                name as NodeOperationName,
                validated(spec.input, openSealedRequest(msg, options.seal)),
              ),
            undefined,
            options.seal,
          ),
      });
  }

  async function clientCall(name: OperationName, msg: ServiceMsg): Promise<unknown> {
    const spec = operations[name];
    const principal = access.operator(bearerOf(msg.headers?.get('Authorization')));
    const input = validated(spec.input, parsePayload(msg));
    if (spec.ratedAsCreate) await access.admitCreate(principal, 'nats');
    const handler = surface[name] as (input: unknown) => Promise<unknown>;
    return present(spec.presents, await handler(input), options.baseUrl());
  }
  return service;
}
