import type { NatsConnection } from '@nats-io/nats-core';
import { type Service, type ServiceMsg, Svcm } from '@nats-io/services';
import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { type Access, bearerOf, type Principal } from '../access/index.js';
import { sessionLinks } from '../api/links.js';
import type { Commands, SessionView } from '../commands.js';
import { CastpoolError } from '../errors.js';
import { countRefusal, type Metrics } from '../metrics.js';
import {
  CreateSessionBody,
  EmptyRequest,
  NavigateRequest,
  SessionIdRequest,
  ThumbnailRequest,
  type ViewerTokenBody,
  ViewerTokenRequest,
  WhepDeleteRequest,
  WhepOfferRequest,
  WhepPatchRequest,
} from '../schemas.js';
import type { Fleet } from './fleet.js';
import type { FleetSeal } from './fleet-seal.js';
import { answer, type ErrorReply, openSealedRequest, parsePayload } from './rpc.js';

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
    seal: FleetSeal;
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

  // This node's own sessions: what other nodes forward here. A request must be sealed by a member
  // of the fleet (no API token travels between nodes) and its payload fits the op's schema.
  const own = service.addGroup(`${prefix}.nodes.${node}`, `node-${node}`);
  const nodeEndpoint = <T extends TSchema>(name: string, schema: T, work: (payload: Static<T>) => unknown) =>
    own.addEndpoint(`node-${name.replace('.', '-')}`, {
      subject: name,
      handler: (_error, msg) =>
        void answer(
          msg,
          async () => work(validated<Static<T>>(schema, openSealedRequest(msg, options.seal))),
          undefined,
          options.seal,
        ),
    });
  nodeEndpoint('create', CreateSessionBody, (body) => fleet.createHere(body));
  nodeEndpoint('list', EmptyRequest, () => local.list());
  nodeEndpoint('get', SessionIdRequest, ({ id }) => local.get(id));
  nodeEndpoint('delete', SessionIdRequest, ({ id }) => fleet.deleteHere(id));
  nodeEndpoint('navigate', NavigateRequest, ({ id, url }) => local.navigate(id, url));
  nodeEndpoint('hibernate', SessionIdRequest, ({ id }) => fleet.hibernateHere(id));
  nodeEndpoint('resume', SessionIdRequest, ({ id }) => local.resume(id));
  nodeEndpoint('whep.offer', WhepOfferRequest, ({ id, offer, scope }) =>
    local.attachViewer(id, offer, scope),
  );
  nodeEndpoint('whep.patch', WhepPatchRequest, ({ id, viewerId, fragment, ifMatch }) =>
    local.patchViewer(id, viewerId, fragment, ifMatch),
  );
  nodeEndpoint('whep.delete', WhepDeleteRequest, ({ id, viewerId }) => local.detachViewer(id, viewerId));
  nodeEndpoint('snapshot', SessionIdRequest, ({ id }) => local.snapshot(id));
  nodeEndpoint(
    'thumbnail',
    ThumbnailRequest,
    async ({ id, width }) => new Uint8Array(await local.thumbnail(id, width)),
  );
  return service;
}
