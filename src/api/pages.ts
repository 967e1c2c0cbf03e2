import { readFileSync } from 'node:fs';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Commands } from '../commands.js';
import { SessionIdParams } from '../schemas.js';

const viewerHtml = readFileSync(new URL('./pages/viewer.html', import.meta.url), 'utf8');

/** The viewer page: a WHEP client with a live FPS readout. */
export const pageRoutes: FastifyPluginAsyncTypebox<{ commands: Commands }> = async (app, { commands }) => {
  app.get(
    '/api/sessions/:id/view',
    {
      schema: { summary: 'HTML viewer page for a session', params: SessionIdParams, produces: ['text/html'] },
    },
    async (request, reply) => {
      commands.get(request.params.id); // 404 for unknown sessions
      return reply.type('text/html; charset=utf-8').send(viewerHtml);
    },
  );
};
