import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type WebSocket from 'ws';
import { bearerOf } from '../access/index.js';
import type { AutomatedSession } from '../automation/automated-session.js';
import { SessionCdpProxy } from '../automation/session-cdp-proxy.js';
import type { Automation } from '../commands/automation.js';
import type { CommandSurface } from '../commands/index.js';
import { CastpoolError } from '../errors.js';
import { SessionIdParams } from '../schemas.js';
import { connectToOwner, RELAYED_HEADER, relay } from './cdp-relay.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** CDP route: the session the client drives, attached before the WebSocket upgrade. */
    automated?: AutomatedSession;
    /** CDP route, a session of another node: the owner's endpoint, opened before the upgrade. */
    upstream?: WebSocket;
  }
}

/** A client message larger than this closes its socket (1009): a screenshot's answer goes the other way. */
const MAX_CLIENT_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * `GET /api/sessions/:id/devtools` is the same for a DevTools front end, as a page endpoint (links.devtools).
 * `GET /api/sessions/:id/cdp`: a WebSocket that `puppeteer.connect({ browserWSEndpoint })` and
 * Playwright's `chromium.connectOverCDP()` take unchanged. The session is attached before the upgrade,
 * so an unknown or failed session is a plain 404/409 JSON answer, not a socket that closes at once.
 */
export const cdpRoutes: FastifyPluginAsyncTypebox<{
  automation: Automation;
  /** The fleet's surface: where a session of another node runs. */
  surface: () => CommandSurface;
  /** Another node's API base URL, from its sealed lease. */
  nodeUrl: (node: string) => Promise<string | undefined>;
  log: FastifyBaseLogger;
}> = async (app, { automation, surface, nodeUrl, log }) => {
  // A refused upgrade (401, 403, 404, 409) is an HTTP answer on a socket the HTTP server no longer
  // manages: without this it stayed open after the answer, one held socket per refused client.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.headers.upgrade) {
      reply.header('connection', 'close');
      reply.raw.once('finish', () => request.raw.socket?.end());
    }
    return payload;
  });
  const endpoint = (name: 'cdp' | 'devtools', summary: string) =>
    app.get(
      `/api/sessions/:id/${name}`,
      {
        websocket: true,
        config: { access: 'automate' },
        schema: {
          summary,
          params: SessionIdParams,
          querystring: Type.Object(
            {
              token: Type.Optional(
                Type.String({ maxLength: 4096, description: 'A token, for clients that cannot set headers' }),
              ),
            },
            { additionalProperties: false },
          ),
        },
        preHandler: async (request) => {
          if (!request.ws)
            throw new CastpoolError(
              'bad_request',
              "this is the session's CDP endpoint: connect with a WebSocket",
            );
          const { id } = request.params as { id: string };
          const automated = await automation.attach(id).catch(async (error: unknown) => {
            if (!(error instanceof CastpoolError) || error.code !== 'not_found') throw error;
            // Another node's session (404 when none has it): relayed to its node, once.
            const view = await surface().get({ id });
            const base = request.headers[RELAYED_HEADER] ? undefined : await nodeUrl(view.node);
            if (!base || !/^https?:\/\//.test(base))
              throw new CastpoolError(
                'conflict',
                `session ${id} runs on node ${view.node}, which cannot be reached from here`,
                {
                  retryable: true,
                },
              );
            const upstream = await connectToOwner(
              `${base.replace(/^http/, 'ws').replace(/\/$/, '')}/api/sessions/${encodeURIComponent(id)}/${name}`,
              tokenOf(request),
            );
            request.upstream = upstream;
            request.raw.socket.once('close', () => upstream.close());
            return undefined;
          });
          if (!automated) return;
          request.automated = automated;
          // Counted on the session until its socket goes, whether or not the upgrade completes.
          request.raw.socket.once('close', () => automated.detach());
        },
      },
      (socket, request) => {
        if (request.upstream) {
          relay(socket, request.upstream);
          return;
        }
        const session = request.automated as AutomatedSession;
        const proxy = new SessionCdpProxy(
          socket,
          session,
          log.child({ sessionId: session.sessionId }),
          name === 'cdp' ? 'browser' : 'page',
        );
        socket.on('message', (data: Buffer, isBinary: boolean) => {
          if (isBinary) {
            socket.close(1003, 'castpool: CDP messages are text');
            return;
          }
          proxy.receive(data.toString('utf8'));
        });
        socket.on('close', () => proxy.close());
        socket.on('error', () => proxy.close());
      },
    );
  endpoint(
    'cdp',
    "The session's CDP endpoint (WebSocket) for Puppeteer and Playwright: its tabs only; an API token or an automate token, as a bearer header or ?token=",
  );
  endpoint(
    'devtools',
    "The session's active tab as a page endpoint (WebSocket) for a DevTools front end (links.devtools); the same tokens and policy as the CDP endpoint",
  );
};

/** The client's credential, passed on to the owner node (in a header: never in a URL or a log). */
function tokenOf(request: FastifyRequest): string | undefined {
  const query = (request.query as { token?: unknown }).token;
  return bearerOf(request.headers.authorization) ?? (typeof query === 'string' ? query : undefined);
}

export const cdpWebSocketOptions = { options: { maxPayload: MAX_CLIENT_MESSAGE_BYTES } };
