import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { authPlugin, declaredAccess, type RouteAccess, routeAccess } from './api/auth.js';
import { cdpRoutes, cdpWebSocketOptions } from './api/cdp.js';
import { contextRoutes } from './api/contexts.js';
import { errorsPlugin } from './api/errors.js';
import { eventRoutes } from './api/events.js';
import { linkBase } from './api/links.js';
import { requestLogFields } from './api/log-fields.js';
import { pageRoutes } from './api/pages.js';
import { recordingRoutes } from './api/recordings.js';
import { sessionRoutes } from './api/sessions.js';
import { statusRoutes } from './api/status.js';
import { whepRoutes } from './api/whep.js';
import { Commands } from './commands/index.js';
import type { Config } from './config.js';
import { NatsFace } from './fleet/index.js';
import { type Inspection, startInspection } from './observability/inspection.js';
import { type Castpool, createCastpool } from './system.js';

export interface App {
  app: FastifyInstance;
  /** Set when the Stately inspector is attached (`inspect.enabled`, `--inspect`). */
  inspection: Inspection | undefined;
  castpool: Castpool;
  commands: Commands;
  nats: NatsFace;
  /** Every route registered (method, pattern, declared access): the security sweep walks these. */
  routes: { method: string; url: string; access: RouteAccess }[];
}

/** Builds the Fastify instance and the actor system behind it; `app.close()` ends every session. */
/** `logStream`: where pino writes (tests read the lines); stdout by default. */
export async function buildApp(config: Config, logStream?: { write(line: string): void }): Promise<App> {
  // Request lines never carry a credential a client put in the query (`view?token=…`).
  const serializers = { req: requestLogFields };
  const app = Fastify({
    logger: logStream
      ? { level: config.logLevel, stream: logStream, serializers }
      : { level: config.logLevel, serializers },
    // Caps and timeouts on what a client can hold open (slow headers, slow bodies, idle sockets).
    connectionTimeout: config.http.connectionTimeoutMs,
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    // Node checks its header/request timeouts only this often (30 s by default).
    http: { headersTimeout: config.http.headersTimeoutMs, connectionsCheckingInterval: 1000 },
    bodyLimit: 256 * 1024,
    forceCloseConnections: true,
    // Unknown fields are an error, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.server.maxConnections = config.http.maxConnections;
  const routes: App['routes'] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat())
      routes.push({ method, url: route.url, access: declaredAccess(route.url, route.config) });
  });
  const inspection = config.inspect.enabled
    ? await startInspection(config.inspect.port, app.log, config.inspect.uiUrl)
    : undefined;
  const castpool = createCastpool(config, app.log, inspection?.inspect);
  const commands = new Commands(castpool);
  // Leases name this node as the others reach it: its advertised URL, its public URL, else the address
  // it listens on.
  const selfUrl = () => {
    if (config.advertiseUrl) return config.advertiseUrl;
    if (config.publicUrl) return config.publicUrl.replace(/\/$/, '');
    const address = app.server.address();
    if (address && typeof address === 'object') {
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${host}:${address.port}`;
    }
    return `http://${config.host}:${config.port}`;
  };
  const nats = new NatsFace(castpool, commands, selfUrl);
  app.log.info({ contexts: castpool.contexts.where }, 'saved contexts are kept here');
  app.addHook('onClose', async () => {
    app.log.info('closing every session');
    await castpool.shutdown();
    await nats.close();
    await castpool.processes.stopAll(500); // whatever is left, the embedded nats-server included
    castpool.processes.dispose();
    await inspection?.close();
  });
  // An embedded server is up in well under a second; a remote cluster may be down: go on without it.
  await nats.start(config.nats.url ? 5000 : 15_000);
  const surface = () => nats.surface();

  await app.register(errorsPlugin, { metrics: castpool.metrics });
  // Request lines about one session carry its id, like the session's own lines.
  app.addHook('onRequest', async (request, reply) => {
    const id = (request.params as { id?: unknown } | undefined)?.id;
    if (typeof id === 'string') {
      request.log = request.log.child({ sessionId: id });
      reply.log = request.log;
    }
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'castpool',
        version: '0.1.0',
        description: 'Live headless-Chromium sessions over WebRTC (WHEP)',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(cors, {
    // WHEP players live on other origins; the rest of the API only where configured.
    delegator: (request, callback) => {
      const whep = routeAccess(request as FastifyRequest) === 'whep';
      const origins = whep ? config.cors.whepOrigins : config.cors.origins;
      callback(null, {
        origin: origins.includes('*') ? '*' : origins.length > 0 ? origins : false,
        methods: ['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
        allowedHeaders: ['Authorization', 'Content-Type', 'If-Match'],
        exposedHeaders: ['Location', 'Link', 'ETag', 'Accept-Patch', 'Retry-After'],
        maxAge: 600,
      });
    },
  });
  await app.register(authPlugin, { access: castpool.access });
  const base = linkBase({ publicUrl: config.publicUrl, trustedHosts: config.trustedHosts, selfUrl });
  await app.register(sessionRoutes, {
    surface,
    linkBase: base,
    access: castpool.access,
    uploadMb: config.limits.uploadMb,
  });
  await app.register(websocket, cdpWebSocketOptions);
  await app.register(cdpRoutes, {
    automation: commands.automation,
    surface,
    nodeUrl: (node) => nats.nodeUrl(node),
    log: app.log,
  });
  await app.register(whepRoutes, { surface, linkBase: base });
  await app.register(contextRoutes, { surface });
  await app.register(recordingRoutes, { surface });
  await app.register(pageRoutes, { surface });
  await app.register(statusRoutes, { castpool, commands, nats, inspection });
  await app.register(eventRoutes, { nats, maxStreams: config.limits.eventStreams });
  return { app, castpool, commands, nats, inspection, routes };
}
