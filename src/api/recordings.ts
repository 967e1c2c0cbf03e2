import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import parseRange from 'range-parser';
import type { CommandSurface } from '../commands/index.js';
import {
  DOWNLOAD_CHUNK_BYTES,
  ErrorBody,
  RecordingList,
  RecordingRequest,
  RecordingStopped,
  RecordingView,
  SessionIdParams,
} from '../schemas.js';

const errors = {
  400: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  503: ErrorBody,
  504: ErrorBody,
};
const RecordingParams = Type.Object({
  id: SessionIdParams.properties.id,
  recordingId: RecordingRequest.properties.recordingId,
});

/**
 * Recordings of a session's stream (issue 19): start, list, download (with range requests, so a
 * `<video>` can seek), stop or delete. The session may run on another node: every call goes through
 * the command surface, and a file travels in pieces.
 */
export const recordingRoutes: FastifyPluginAsyncTypebox<{ surface: () => CommandSurface }> = async (
  app,
  { surface },
) => {
  app.post(
    '/api/sessions/:id/recordings',
    {
      schema: {
        summary:
          "Start recording the session's stream to a file on its node (no second encode; it counts as a viewer)",
        params: SessionIdParams,
        response: { 201: RecordingView, 507: ErrorBody, ...errors },
      },
    },
    async (request, reply) => {
      const recording = await surface()['recording-start']({ id: request.params.id });
      return reply
        .status(201)
        .header('Location', `/api/sessions/${request.params.id}/recordings/${recording.id}`)
        .send(recording);
    },
  );

  app.get(
    '/api/sessions/:id/recordings',
    {
      schema: {
        summary: "The session's recordings (kept until their retention ends or the session is deleted)",
        params: SessionIdParams,
        response: { 200: RecordingList, ...errors },
      },
    },
    async (request) => surface().recordings({ id: request.params.id }),
  );

  app.get(
    '/api/sessions/:id/recordings/:recordingId',
    {
      schema: {
        summary: 'A completed recording (WebM or Matroska); honours a single byte range',
        params: RecordingParams,
        produces: ['video/webm', 'video/x-matroska'],
        response: {
          200: Type.Unsafe<Readable>({ type: 'string', format: 'binary' }),
          206: Type.Unsafe<Readable>({ type: 'string', format: 'binary' }),
          416: ErrorBody,
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const { id, recordingId } = request.params;
      const listed = (await surface().recordings({ id })).recordings.find((r) => r.id === recordingId);
      // Asking for the first byte checks it exists and is complete before any header is sent.
      await surface().recording({ id, recordingId, offset: 0, length: 1 });
      const size = listed?.bytes ?? 0;
      let start = 0;
      let end = size - 1;
      const header = request.headers.range;
      const ranges = header ? parseRange(size, header, { combine: true }) : undefined;
      if (ranges === -1) {
        return reply
          .status(416)
          .header('Content-Range', `bytes */${size}`)
          .send({ statusCode: 416, error: 'range_not_satisfiable', message: `the file has ${size} bytes` });
      }
      // A malformed header, or several ranges, is answered with the whole file (RFC 9110 allows it).
      const range = Array.isArray(ranges) && ranges.length === 1 ? ranges[0] : undefined;
      if (range) {
        start = range.start;
        end = range.end;
        reply.status(206).header('Content-Range', `bytes ${start}-${end}/${size}`);
      }
      async function* pieces() {
        for (let offset = start; offset <= end; ) {
          const length = Math.min(end + 1 - offset, DOWNLOAD_CHUNK_BYTES);
          const piece = await surface().recording({ id, recordingId, offset, length });
          if (piece.byteLength === 0) return;
          offset += piece.byteLength;
          yield Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        }
      }
      const extension = listed?.contentType === 'video/webm' ? 'webm' : 'mkv';
      return reply
        .type(listed?.contentType ?? 'application/octet-stream')
        .header('Accept-Ranges', 'bytes')
        .header('Content-Disposition', `inline; filename="${recordingId}.${extension}"`)
        .header('Cache-Control', 'no-store')
        .header('X-Content-Type-Options', 'nosniff')
        .header('Content-Length', String(Math.max(0, end + 1 - start)))
        .send(Readable.from(pieces()));
    },
  );

  app.delete(
    '/api/sessions/:id/recordings/:recordingId',
    {
      schema: {
        summary:
          'Stop a running recording (answers once its file is finalised) or delete a finished one and its file',
        params: RecordingParams,
        response: { 200: RecordingStopped, ...errors },
      },
    },
    async (request) => surface()['recording-stop'](request.params),
  );
};
