import type { NatsConnection } from '@nats-io/nats-core';
import { type Service, type ServiceMsg, Svcm } from '@nats-io/services';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { type Access, bearerOf, type Principal, type ViewerScope } from '../access/index.js';
import { sessionLinks } from '../api/links.js';
import type { Commands, SessionView } from '../commands.js';
import { CastpoolError } from '../errors.js';
import { countRefusal, type Metrics } from '../metrics.js';
import {
  CreateSessionBody,
  EmptyRequest,
  NavigateRequest,
  SessionIdRequest,
  type ViewerTokenBody,
  ViewerTokenRequest,
} from '../schemas.js';
import type { Fleet } from './fleet.js';
import { answer, type ErrorReply, parsePayload } from './rpc.js';

const version = process.env.npm_package_version ?? '0.1.0';

/** The payload, checked against the same schema REST uses; 400 naming the first problems otherwise. */
function validated<T>(schema: TSchema, payload: unknown): T {
  if (Value.Check(schema, payload)) return payload as T;
  const problems = [...Value.Errors(schema, payload)]
    .slice(0, 3)
    .map((e) => `${e.path || '/'} ${e.message}`)
    .join('; ');
  throw new CastpoolError('bad_request', `invalid payload: ${problems}`);
}

type Id = { id: string };

/**
 * The NATS face, on the services framework (discoverable with `nats micro`): the fleet-wide
 * `<prefix>.sessions.<op>` endpoints (any node answers, queue group) and this node's own
 * `<prefix>.nodes.<node>.<op>` endpoints, which the fleet uses to reach a session's owner.
 */
export async function startService(
  nc: NatsConnection,
  options: {
    prefix: string;
    node: string;
    fleet: Fleet;
    local: Commands;
    baseUrl: () => string;
    access: Access;
    metrics: Metrics;
  },
): Promise<Service> {
  const { prefix, node, fleet, local, access } = options;
  // The same API tokens as REST, in an `Authorization: Bearer` header of the request.
  const counted = (reply: ErrorReply) => countRefusal(options.metrics, reply.error);
  const caller = (msg: ServiceMsg) => access.operator(bearerOf(msg.headers?.get('Authorization')));
  const service = await new Svcm(nc).add({
    name: prefix,
    version,
    description: 'castpool: live headless-Chromium sessions over WebRTC',
    metadata: { node },
  });
  const withLinks = (view: SessionView) => ({ ...view, links: sessionLinks(options.baseUrl(), view.id) });

  const sessions = service.addGroup(`${prefix}.sessions`);
  const endpoint = (
    name: string,
    schema: TSchema,
    work: (payload: never, principal: Principal) => Promise<unknown>,
  ) =>
    sessions.addEndpoint(name, {
      metadata: { description: `castpool ${name} (same JSON as REST)` },
      handler: (_error, msg) =>
        void answer(
          msg,
          async () => {
            const principal = caller(msg);
            return work(validated<never>(schema, parsePayload(msg)), principal);
          },
          counted,
        ),
    });
  endpoint('create', CreateSessionBody, async (body: CreateSessionBody, principal) => {
    await access.admitCreate(principal, 'nats');
    return withLinks(await fleet.create(body));
  });
  endpoint('list', EmptyRequest, async () => ({ sessions: (await fleet.list()).map(withLinks) }));
  endpoint('get', SessionIdRequest, async ({ id }: Id) => withLinks(await fleet.get(id)));
  endpoint('delete', SessionIdRequest, async ({ id }: Id) => {
    await fleet.delete(id);
    return { deleted: id };
  });
  endpoint('navigate', NavigateRequest, async ({ id, url }: Id & { url: string }) =>
    withLinks(await fleet.navigate(id, url)),
  );
  endpoint('hibernate', SessionIdRequest, async ({ id }: Id) => withLinks(await fleet.hibernate(id)));
  endpoint('resume', SessionIdRequest, async ({ id }: Id) => withLinks(await fleet.resume(id)));
  endpoint('viewer-token', ViewerTokenRequest, async ({ id, scope, ttlSeconds }: Id & ViewerTokenBody) => {
    const view = await fleet.get(id);
    const minted = access.mintViewerToken(view.id, scope, ttlSeconds);
    return { ...minted, viewUrl: `${sessionLinks(options.baseUrl(), view.id).view}#token=${minted.token}` };
  });

  // This node's own sessions: what other nodes forward here. Payloads come from castpool nodes.
  const own = service.addGroup(`${prefix}.nodes.${node}`, `node-${node}`);
  const nodeEndpoint = (name: string, work: (payload: never) => unknown) =>
    own.addEndpoint(`node-${name.replace('.', '-')}`, {
      subject: name,
      handler: (_error, msg) =>
        void answer(msg, async () => {
          caller(msg);
          return work(parsePayload(msg) as never);
        }),
    });
  nodeEndpoint('create', (body: CreateSessionBody) => fleet.createHere(validated(CreateSessionBody, body)));
  nodeEndpoint('list', () => local.list());
  nodeEndpoint('get', ({ id }: Id) => local.get(id));
  nodeEndpoint('delete', ({ id }: Id) => fleet.deleteHere(id));
  nodeEndpoint('navigate', ({ id, url }: Id & { url: string }) => local.navigate(id, url));
  nodeEndpoint('hibernate', ({ id }: Id) => fleet.hibernateHere(id));
  nodeEndpoint('resume', ({ id }: Id) => local.resume(id));
  nodeEndpoint('whep.offer', ({ id, offer, scope }: Id & { offer: string; scope?: ViewerScope }) =>
    local.attachViewer(id, offer, scope === 'control' ? 'control' : 'view'),
  );
  nodeEndpoint(
    'whep.patch',
    ({ id, viewerId, fragment, ifMatch }: Id & { viewerId: string; fragment: string; ifMatch?: string }) =>
      local.patchViewer(id, viewerId, fragment, ifMatch),
  );
  nodeEndpoint('whep.delete', ({ id, viewerId }: Id & { viewerId: string }) =>
    local.detachViewer(id, viewerId),
  );
  nodeEndpoint('snapshot', ({ id }: Id) => local.snapshot(id));
  nodeEndpoint(
    'thumbnail',
    async ({ id, width }: Id & { width: number }) => new Uint8Array(await local.thumbnail(id, width)),
  );
  return service;
}
