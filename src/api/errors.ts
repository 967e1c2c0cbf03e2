import fp from 'fastify-plugin';
import { CastpoolError } from '../errors.js';
import { countRefusal, type Metrics } from '../observability/metrics.js';

/** Every error leaves as `{ statusCode, error, message }`; bad input is a 4xx, never a 500. */
export const errorsPlugin = fp<{ metrics: Metrics }>(async (app, { metrics }) => {
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof CastpoolError) {
      countRefusal(metrics, error.code);
      if (error.options.retryAfterSeconds)
        reply.header('Retry-After', String(error.options.retryAfterSeconds));
      if (error.status === 401) reply.header('WWW-Authenticate', 'Bearer');
      return reply
        .status(error.status)
        .send({ statusCode: error.status, error: error.code, message: error.message });
    }
    const err = error as Error & { statusCode?: number; validation?: unknown; code?: string };
    if (err.validation) {
      return reply.status(400).send({ statusCode: 400, error: 'bad_request', message: err.message });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, 'unhandled error');
    const code = status === 500 ? 'internal' : (err.code ?? 'bad_request').toLowerCase();
    return reply
      .status(status)
      .send({ statusCode: status, error: code, message: status === 500 ? 'internal error' : err.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ statusCode: 404, error: 'not_found', message: `no route ${request.method} ${request.url}` }),
  );
});
