import '@fastify/swagger';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { CommandSurface } from '../commands/index.js';
import { CastpoolError } from '../errors.js';
import { iceServerLinks } from '../media/ice-servers.js';
import { ErrorBody, SessionIdParams, ViewerParams } from '../schemas.js';

const SDP = 'application/sdp';
const SDPFRAG = 'application/trickle-ice-sdpfrag';

const sdpBody = (description: string) => Type.String({ description });

/** WHEP (draft-ietf-wish-whep): POST an SDP offer, get an answer and a viewer resource to PATCH/DELETE. */
export const whepRoutes: FastifyPluginAsyncTypebox<{
  surface: () => CommandSurface;
  linkBase: (request: FastifyRequest) => string;
}> = async (app, { surface, linkBase }) => {
  for (const type of [SDP, SDPFRAG]) {
    app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: 64 * 1024 }, (_request, body, done) =>
      done(null, body),
    );
  }
  // Preflights match these (not @fastify/cors' `OPTIONS *`), so CORS is decided as a WHEP route;
  // @fastify/cors answers them in its hook, before any handler.
  for (const path of ['/api/sessions/:id/whep', '/api/sessions/:id/whep/:viewerId'])
    app.options(path, { config: { access: 'whep' }, schema: { hide: true } }, (_request, reply) =>
      reply.status(204).send(),
    );

  app.post(
    '/api/sessions/:id/whep',
    {
      config: { access: 'whep' },
      schema: {
        summary: 'WHEP: start watching a session (body: SDP offer, answer: SDP)',
        params: SessionIdParams,
        consumes: [SDP],
        body: sdpBody('SDP offer'),
        produces: [SDP],
        response: {
          201: sdpBody('SDP answer'),
          400: ErrorBody,
          404: ErrorBody,
          406: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      if (!request.headers['content-type']?.startsWith(SDP))
        throw new CastpoolError('unsupported_media_type', `WHEP offers must be sent as ${SDP}`);
      const { viewerId, answer, etag, iceServers } = await surface()['whep.offer']({
        id: request.params.id,
        offer: request.body,
        scope: request.viewerScope,
      });
      const location = `${linkBase(request)}/api/sessions/${request.params.id}/whep/${viewerId}`;
      return reply
        .status(201)
        .type(SDP)
        .headers({ Location: location, ETag: etag, 'Accept-Patch': SDPFRAG })
        .headers(iceServers.length > 0 ? { Link: iceServerLinks(iceServers) } : {})
        .send(answer);
    },
  );

  app.patch(
    '/api/sessions/:id/whep/:viewerId',
    {
      config: { access: 'whep' },
      schema: {
        summary:
          "WHEP: trickle ICE candidates (204), or restart ICE with new credentials (200: castpool's new ones)",
        params: ViewerParams,
        consumes: [SDPFRAG],
        body: sdpBody('trickle-ice-sdpfrag'),
        response: {
          200: sdpBody("trickle-ice-sdpfrag: castpool's new ICE credentials and candidates"),
          204: Type.Null(),
          400: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
          412: ErrorBody,
          415: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      if (!request.headers['content-type']?.startsWith(SDPFRAG))
        throw new CastpoolError('unsupported_media_type', `PATCH bodies must be ${SDPFRAG}`);
      const { etag, fragment } = await surface()['whep.patch']({
        id: request.params.id,
        viewerId: request.params.viewerId,
        fragment: request.body,
        ifMatch: request.headers['if-match'],
      });
      if (fragment) return reply.status(200).type(SDPFRAG).header('ETag', etag).send(fragment);
      return reply.status(204).header('ETag', etag).send(null);
    },
  );

  app.delete(
    '/api/sessions/:id/whep/:viewerId',
    {
      config: { access: 'whep' },
      schema: {
        summary: 'WHEP: stop watching',
        params: ViewerParams,
        response: { 200: Type.Null(), 404: ErrorBody },
      },
    },
    async (request, reply) => {
      await surface()['whep.delete']({ id: request.params.id, viewerId: request.params.viewerId });
      return reply.status(200).send(null);
    },
  );
};
