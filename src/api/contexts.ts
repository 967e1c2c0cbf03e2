import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { CommandSurface } from '../commands/index.js';
import { CastpoolError } from '../errors.js';
import {
  ContextDetailBody,
  ContextListBody,
  ContextName,
  ContextQuery,
  ContextSaveBody,
  ErrorBody,
} from '../schemas.js';

const errors = {
  400: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  503: ErrorBody,
};
const ContextParams = Type.Object({ name: ContextName });

/**
 * Saved contexts: a session's cookies and storage under a name, versioned; `POST /api/sessions
 * {context}` starts from one. API routes (deny by default); values are shown only to an API token
 * that asks (`?reveal=true`).
 */
export const contextRoutes: FastifyPluginAsyncTypebox<{ surface: () => CommandSurface }> = async (
  app,
  { surface },
) => {
  app.post(
    '/api/contexts',
    {
      schema: {
        summary: "Save a session's cookies and storage as a context (a new version when the name exists)",
        body: ContextSaveBody,
        response: { 201: ContextDetailBody, ...errors },
      },
    },
    async (request, reply) => {
      const { fromSession, name } = request.body;
      reply.code(201);
      return surface()['context-save']({ id: fromSession, name });
    },
  );

  app.get(
    '/api/contexts',
    {
      schema: { summary: 'Saved contexts (latest versions, no values)', response: { 200: ContextListBody } },
    },
    async () => surface()['context-list']({}),
  );

  app.get(
    '/api/contexts/:name',
    {
      schema: {
        summary: 'A saved context: its versions; its cookies and storage only with ?reveal=true (API tokens)',
        params: ContextParams,
        querystring: ContextQuery,
        response: { 200: ContextDetailBody, ...errors },
      },
    },
    async (request) => {
      const { reveal, version } = request.query;
      if (reveal && request.principal.kind !== 'api')
        throw new CastpoolError('forbidden', "a context's values are shown only to an API token");
      return surface()['context-get']({ name: request.params.name, version, reveal });
    },
  );

  app.delete(
    '/api/contexts/:name',
    {
      schema: {
        summary: 'Delete a saved context, every version',
        params: ContextParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await surface()['context-delete']({ name: request.params.name });
      reply.code(204);
      return null;
    },
  );
};
