import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Access } from '../access/index.js';
import type { CommandSurface, SessionView } from '../commands/index.js';
import { withLinks, withViewUrl } from '../commands/links.js';
import {
  CreateSessionBody,
  DialogBody,
  DownloadList,
  DownloadRequest,
  ErrorBody,
  NavigateBody,
  SessionDetail,
  SessionIdParams,
  SessionSnapshotBody,
  ViewerToken,
  ViewerTokenBody,
} from '../schemas.js';

const errors = {
  400: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  429: ErrorBody,
  502: ErrorBody,
  503: ErrorBody,
};

export const sessionRoutes: FastifyPluginAsyncTypebox<{
  surface: () => CommandSurface;
  linkBase: (request: FastifyRequest) => string;
  access: Access;
}> = async (app, { surface, linkBase, access }) => {
  const linked = (request: FastifyRequest, view: SessionView) => withLinks(linkBase(request), view);

  app.post(
    '/api/sessions',
    {
      schema: {
        summary: 'Create a session: a live Chromium page, streamable over WHEP',
        body: CreateSessionBody,
        response: { 201: SessionDetail, ...errors },
      },
    },
    async (request, reply) => {
      await access.admitCreate(request.principal, request.ip);
      const body = linked(request, await surface().create(request.body));
      return reply.status(201).header('Location', body.links.self).send(body);
    },
  );

  app.get(
    '/api/sessions',
    {
      schema: {
        summary: 'List sessions',
        response: { 200: Type.Object({ sessions: Type.Array(SessionDetail) }) },
      },
    },
    async (request) => ({
      sessions: (await surface().list({})).sessions.map((view) => linked(request, view)),
    }),
  );

  app.get(
    '/api/sessions/:id',
    {
      schema: {
        summary: 'One session',
        params: SessionIdParams,
        response: { 200: SessionDetail, ...errors },
      },
    },
    async (request) => linked(request, await surface().get({ id: request.params.id })),
  );

  app.delete(
    '/api/sessions/:id',
    { schema: { summary: 'Close a session; answers once its processes are gone', params: SessionIdParams } },
    async (request, reply) => {
      await surface().delete({ id: request.params.id });
      return reply.status(204).send();
    },
  );

  for (const action of ['hibernate', 'resume'] as const) {
    app.post(
      `/api/sessions/:id/${action}`,
      {
        schema: {
          summary:
            action === 'hibernate'
              ? 'Hibernate an unwatched session: save its state, release its renderer'
              : 'Wake a hibernated session; answers when it is live again',
          params: SessionIdParams,
          response: { 200: SessionDetail, ...errors },
        },
      },
      async (request) => linked(request, await surface()[action]({ id: request.params.id })),
    );
  }

  app.get(
    '/api/sessions/:id/snapshot',
    {
      schema: {
        summary: "The session actor's persisted XState snapshot (sanitised: handles become {$handle})",
        params: SessionIdParams,
        response: { 200: SessionSnapshotBody, ...errors },
      },
    },
    async (request) => surface().snapshot({ id: request.params.id }),
  );

  app.post(
    '/api/sessions/:id/viewer-tokens',
    {
      schema: {
        summary: 'Mint a viewer token (view or control) for this session, for its WHEP endpoint',
        params: SessionIdParams,
        body: ViewerTokenBody,
        response: { 201: ViewerToken, ...errors },
      },
    },
    async (request, reply) => {
      const minted = await surface()['viewer-token']({ id: request.params.id, ...request.body });
      return reply.status(201).send(withViewUrl(linkBase(request), minted));
    },
  );

  app.post(
    '/api/sessions/:id/navigate',
    {
      schema: {
        summary: 'Navigate the session page; answers when it has loaded',
        params: SessionIdParams,
        body: NavigateBody,
        response: { 200: SessionDetail, ...errors },
      },
    },
    async (request) =>
      linked(request, await surface().navigate({ id: request.params.id, url: request.body.url })),
  );

  app.get(
    '/api/sessions/:id/downloads',
    {
      schema: {
        summary: "The files the session's pages downloaded (kept until the session is deleted)",
        params: SessionIdParams,
        response: { 200: DownloadList, ...errors },
      },
    },
    async (request) => surface().downloads({ id: request.params.id }),
  );

  app.get(
    '/api/sessions/:id/downloads/:downloadId',
    {
      schema: {
        summary: 'One completed download, as the site named it',
        params: Type.Object({
          id: SessionIdParams.properties.id,
          downloadId: DownloadRequest.properties.downloadId,
        }),
        produces: ['application/octet-stream'],
        response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }), ...errors },
      },
    },
    async (request, reply) => {
      const { id, downloadId } = request.params;
      const listed = (await surface().downloads({ id })).downloads.find((d) => d.id === downloadId);
      const bytes = await surface().download({ id, downloadId });
      // The site's name, quoted safely (RFC 6266): ASCII fallback plus the UTF-8 form.
      const name = listed?.name ?? 'download';
      const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
      return reply
        .type('application/octet-stream')
        .header(
          'Content-Disposition',
          `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`,
        )
        .header('Cache-Control', 'no-store')
        .header('X-Content-Type-Options', 'nosniff')
        .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  );

  app.post(
    '/api/sessions/:id/dialog',
    {
      schema: {
        summary: "Answer the JavaScript dialog the page shows (the session's `dialog`)",
        params: SessionIdParams,
        body: DialogBody,
        response: { 200: SessionDetail, ...errors },
      },
    },
    async (request) => linked(request, await surface().dialog({ id: request.params.id, ...request.body })),
  );
};
