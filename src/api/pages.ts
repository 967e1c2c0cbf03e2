import { readFileSync } from 'node:fs';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { CommandSurface } from '../commands/index.js';
import { ErrorBody, SessionIdParams } from '../schemas.js';

const viewerHtml = readFileSync(new URL('./pages/viewer.html', import.meta.url), 'utf8');
const dashboardHtml = readFileSync(new URL('./pages/dashboard.html', import.meta.url), 'utf8');

/** The dashboard, the viewer page (a WHEP client with a live FPS readout) and thumbnails. */
export const pageRoutes: FastifyPluginAsyncTypebox<{ surface: () => CommandSurface }> = async (
  app,
  { surface },
) => {
  app.get(
    '/',
    {
      config: { access: 'open' },
      schema: { summary: 'Dashboard: every session, live thumbnails, actions', produces: ['text/html'] },
    },
    async (_request, reply) => reply.type('text/html; charset=utf-8').send(dashboardHtml),
  );

  app.get(
    '/api/sessions/:id/view',
    {
      config: { access: 'open' },
      schema: { summary: 'HTML viewer page for a session', params: SessionIdParams, produces: ['text/html'] },
    },
    // The same page for every id: an open route must not tell who is there (the page's own WHEP
    // request, with its token, finds out).
    async (_request, reply) => reply.type('text/html; charset=utf-8').send(viewerHtml),
  );

  app.get(
    '/api/sessions/:id/thumbnail',
    {
      schema: {
        summary: 'JPEG thumbnail of the session page (reuses the streamed frame while watched)',
        params: SessionIdParams,
        querystring: Type.Object(
          { width: Type.Integer({ minimum: 16, maximum: 3840, default: 320 }) },
          { additionalProperties: false },
        ),
        produces: ['image/jpeg'],
        response: {
          200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }),
          400: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const jpeg = await surface().thumbnail({ id: request.params.id, width: request.query.width });
      return reply
        .type('image/jpeg')
        .header('Cache-Control', 'no-store')
        .send(Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength));
    },
  );
};
