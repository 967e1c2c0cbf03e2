import { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Access } from '../access/index.js';
import type { CommandSurface, SessionView } from '../commands/index.js';
import { withLinks, withViewUrl } from '../commands/links.js';
import { CastpoolError } from '../errors.js';
import {
  ControlBody,
  CreateSessionBody,
  DialogBody,
  DownloadList,
  DownloadRequest,
  ErrorBody,
  NavigateBody,
  SessionDetail,
  SessionIdParams,
  SessionSnapshotBody,
  TabId,
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
  uploadMb: number;
}> = async (app, { surface, linkBase, access, uploadMb }) => {
  const linked = (request: FastifyRequest, view: SessionView) => withLinks(linkBase(request), view);
  // Only this plugin's routes take multipart (the file chooser's), within the upload limits.
  await app.register(multipart, {
    limits: { files: 10, fileSize: uploadMb * 1024 * 1024, fields: 0, parts: 10 },
  });

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
        response: { 200: Type.Unsafe<Readable>({ type: 'string', format: 'binary' }), ...errors },
      },
    },
    async (request, reply) => {
      const { id, downloadId } = request.params;
      const listed = (await surface().downloads({ id })).downloads.find((d) => d.id === downloadId);
      // The first piece before any header: a missing or unfinished download is a JSON error.
      const first = await surface().download({ id, downloadId, offset: 0 });
      const size = listed?.bytes ?? first.byteLength;
      // The rest piece by piece (the session may run on another node), never the whole file in memory.
      async function* pieces() {
        yield Buffer.from(first.buffer, first.byteOffset, first.byteLength);
        for (let offset = first.byteLength; offset < size; ) {
          const piece = await surface().download({ id, downloadId, offset });
          if (piece.byteLength === 0) return;
          offset += piece.byteLength;
          yield Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        }
      }
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
        .header('Content-Length', String(size))
        .send(Readable.from(pieces()));
    },
  );

  app.post(
    '/api/sessions/:id/file-chooser',
    {
      bodyLimit: (uploadMb + 1) * 1024 * 1024,
      schema: {
        summary:
          "Give files (multipart/form-data, up to 10) to the file chooser the page opened (the session's `fileChooser`)",
        params: SessionIdParams,
        consumes: ['multipart/form-data'],
        response: { 200: SessionDetail, 413: ErrorBody, 415: ErrorBody, ...errors },
      },
    },
    async (request) => {
      if (!request.isMultipart())
        throw new CastpoolError('unsupported_media_type', 'send the files as multipart/form-data');
      const files: { name: string; data: string }[] = [];
      try {
        for await (const part of request.files()) {
          const data = await part.toBuffer();
          files.push({ name: part.filename || 'upload', data: data.toString('base64') });
        }
      } catch (error) {
        if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE')
          throw new CastpoolError('payload_too_large', `a file is larger than ${uploadMb} MB`);
        if ((error as { code?: string }).code === 'FST_FILES_LIMIT')
          throw new CastpoolError('bad_request', 'at most 10 files');
        throw error;
      }
      if (files.length === 0) throw new CastpoolError('bad_request', 'no file in the request');
      return linked(request, await surface()['file-chooser']({ id: request.params.id, files }));
    },
  );

  const TabParams = Type.Object({ id: SessionIdParams.properties.id, tabId: TabId });
  app.post(
    '/api/sessions/:id/tabs/:tabId/activate',
    {
      schema: {
        summary: "Make a tab of the session the active one (the live view and viewers' input follow it)",
        params: TabParams,
        response: { 200: SessionDetail, ...errors },
      },
    },
    async (request) => linked(request, await surface()['tab-activate'](request.params)),
  );

  app.delete(
    '/api/sessions/:id/tabs/:tabId',
    {
      schema: {
        summary: 'Close a tab of the session (not its last; the active one hands over to its neighbour)',
        params: TabParams,
        response: { 200: SessionDetail, ...errors },
      },
    },
    async (request) => linked(request, await surface()['tab-close'](request.params)),
  );

  app.post(
    '/api/sessions/:id/control',
    {
      config: { access: 'party' },
      schema: {
        summary:
          'Take, release or ask for the control lease: one party drives at a time (a person at a controlling viewer, or the agent: the CDP clients)',
        description:
          'An API token acts for any party (and may force); a control token acts for a person at one of its viewers (viewerId); an automate token for the agent. Input of a party that does not hold the lease is refused while another does.',
        params: SessionIdParams,
        body: ControlBody,
        response: { 200: SessionDetail, ...errors },
      },
    },
    async (request) => {
      const { principal } = request;
      const body = request.body;
      if (principal.kind === 'viewer') {
        const as = body.as ?? (body.viewerId === undefined ? 'agent' : 'person');
        if (body.force) throw new CastpoolError('forbidden', 'only an API token may force the lease');
        if (principal.scope === 'control' && as !== 'person')
          throw new CastpoolError(
            'forbidden',
            'a control token acts for a person at one of its viewers (viewerId)',
          );
        if (principal.scope === 'automate' && as !== 'agent')
          throw new CastpoolError('forbidden', 'an automate token acts for the agent');
      }
      return linked(request, await surface().control({ id: request.params.id, ...body }));
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
