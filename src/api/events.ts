import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { CastpoolError } from '../errors.js';
import type { NatsFace } from '../fleet/index.js';

const HEARTBEAT_MS = 15_000;

/** Server-Sent Events: every session transition and pool event of the fleet, as on NATS. */
export const eventRoutes: FastifyPluginAsyncTypebox<{ nats: NatsFace; maxStreams: number }> = async (
  app,
  { nats, maxStreams },
) => {
  const open = new Set<() => void>();
  // Long-lived streams end before the server waits for its connections to close.
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });

  app.get(
    '/api/events',
    {
      schema: {
        summary: 'Server-Sent Events: session transitions and pool events',
        produces: ['text/event-stream'],
      },
    },
    (request, reply) => {
      // Each stream holds a socket and a listener for as long as the client likes: capped.
      if (open.size >= maxStreams)
        throw new CastpoolError('capacity', `${open.size} event streams are open (limit ${maxStreams})`, {
          retryable: true,
          retryAfterSeconds: 10,
        });
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      raw.write(': castpool events\n\n');
      const unsubscribe = nats.subscribe((event) => {
        const name =
          event.kind === 'pool' || event.kind === 'page'
            ? event.type
            : event.kind === 'control'
              ? 'control'
              : 'session';
        raw.write(`event: ${name}\ndata: ${JSON.stringify(event)}\n\n`);
      });
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
      const end = () => {
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(end);
        if (!raw.writableEnded) raw.end();
      };
      open.add(end);
      request.raw.on('close', end);
    },
  );
};
