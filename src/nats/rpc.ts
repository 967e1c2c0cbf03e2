import {
  headers,
  type Msg,
  type NatsConnection,
  NoRespondersError,
  RequestError,
  type RequestOptions,
  TimeoutError,
} from '@nats-io/nats-core';
import type { ServiceMsg } from '@nats-io/services';
import { CastpoolError, codeForStatus, type ErrorCode, errorStatus } from '../errors.js';
import type { FleetSeal } from './fleet-seal.js';

/** What a failed command answers over NATS: the REST error body, plus when to retry. */
export interface ErrorReply {
  statusCode: number;
  error: string;
  message: string;
  retryAfterSeconds?: number;
}

const ERROR_CODE_HEADER = 'Nats-Service-Error-Code';

export function errorReply(error: unknown): ErrorReply {
  if (error instanceof CastpoolError)
    return {
      statusCode: error.status,
      error: error.code,
      message: error.message,
      ...(error.options.retryAfterSeconds ? { retryAfterSeconds: error.options.retryAfterSeconds } : {}),
    };
  return { statusCode: 500, error: 'internal', message: 'internal error' };
}

/**
 * Answers a service request with the result as JSON, or a service error (code = HTTP status). With
 * `seal` (node-to-node) both are sealed for the caller, bound to the request's subject.
 */
export async function answer(
  msg: ServiceMsg,
  work: () => Promise<unknown>,
  onError?: (reply: ErrorReply) => void,
  seal?: FleetSeal,
): Promise<void> {
  const aad = `reply:${msg.subject}`;
  try {
    const result = await work();
    if (seal) {
      const body =
        result instanceof Uint8Array
          ? { bytes: Buffer.from(result).toString('base64') }
          : { json: result ?? null };
      msg.respond(seal.seal(body, aad));
    } else msg.respond(result instanceof Uint8Array ? result : JSON.stringify(result ?? null));
  } catch (error) {
    const reply = errorReply(error);
    onError?.(reply);
    msg.respondError(reply.statusCode, reply.message, seal ? seal.seal(reply, aad) : JSON.stringify(reply));
  }
}

/** How old a sealed node-to-node request may be (a copy replayed later is refused). */
const SEALED_REQUEST_MAX_AGE_MS = 60_000;

/** A sealed request's payload; 401 when it was not sealed by a member of this fleet for this subject. */
export function openSealedRequest(msg: Msg, seal: FleetSeal): unknown {
  const opened = seal.open(msg.data, msg.subject) as { at?: unknown; payload?: unknown } | undefined;
  if (
    !opened ||
    typeof opened.at !== 'number' ||
    Math.abs(Date.now() - opened.at) > SEALED_REQUEST_MAX_AGE_MS
  )
    throw new CastpoolError('unauthorized', 'not a sealed request of this fleet');
  return opened.payload ?? {};
}

/** Parses a request payload as JSON (empty = `{}`), 400 when it is not. */
export function parsePayload(msg: Msg): unknown {
  if (msg.data.length === 0) return {};
  try {
    return msg.json();
  } catch {
    throw new CastpoolError('bad_request', 'payload is not JSON');
  }
}

/** A message over the server's limit is refused here, naming it (NATS would drop the connection's request). */
function tooLargeForNats(nc: NatsConnection, data: string | Uint8Array): void {
  const limit = nc.info?.max_payload ?? 1024 * 1024;
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  if (size <= limit) return;
  throw new CastpoolError(
    'payload_too_large',
    `the request is ${Math.ceil(size / 1024)} KB, more than NATS carries between nodes (${Math.floor(limit / 1024)} KB): send it to the node that runs the session`,
    { retryable: false },
  );
}

/**
 * A command sent to another node (or the fleet's service): the reply, or the error it carried as a
 * CastpoolError with the same code. No answer in time is 504; no connection is 503.
 */
export async function call<T>(
  nc: NatsConnection,
  subject: string,
  payload: unknown,
  timeoutMs: number,
  options: { raw?: boolean; token?: string; seal?: FleetSeal } = {},
): Promise<T> {
  const { raw = false, token, seal } = options;
  let msg: Msg;
  try {
    const requestOptions: RequestOptions = { timeout: timeoutMs };
    if (token) {
      requestOptions.headers = headers();
      requestOptions.headers.set('Authorization', `Bearer ${token}`);
    }
    const data = seal
      ? seal.seal({ at: Date.now(), payload: payload ?? {} }, subject)
      : JSON.stringify(payload ?? {});
    tooLargeForNats(nc, data);
    msg = await nc.request(subject, data, requestOptions);
  } catch (error) {
    if (error instanceof CastpoolError) throw error;
    if (error instanceof TimeoutError)
      throw new CastpoolError('timeout', `no answer on ${subject} within ${timeoutMs} ms`, {
        retryable: true,
        cause: error,
      });
    if (error instanceof NoRespondersError || (error instanceof RequestError && error.isNoResponders()))
      throw new CastpoolError('unavailable', `nobody serves ${subject} now`, {
        retryable: true,
        cause: error,
      });
    throw new CastpoolError('unavailable', `NATS request failed: ${(error as Error).message ?? error}`, {
      retryable: true,
      cause: error,
    });
  }
  const status = Number(msg.headers?.get(ERROR_CODE_HEADER) || 0);
  // A sealed call only believes an answer sealed by a member (anything else on the subject is not one).
  const opened = seal
    ? (seal.open(msg.data, `reply:${subject}`) as Record<string, unknown> | undefined)
    : undefined;
  if (seal && !opened)
    throw new CastpoolError('unavailable', `the answer on ${subject} is not from a member of this fleet`, {
      retryable: true,
    });
  if (status > 0) {
    let reply: Partial<ErrorReply> = {};
    try {
      reply = opened ?? msg.json<ErrorReply>();
    } catch {
      // no body: the header says enough
    }
    const known = reply.error && Object.hasOwn(errorStatus, reply.error);
    throw new CastpoolError(
      known ? (reply.error as ErrorCode) : codeForStatus(status),
      reply.message ?? msg.headers?.get('Nats-Service-Error') ?? '',
      {
        retryable: status === 429 || status >= 503,
        ...(reply.retryAfterSeconds ? { retryAfterSeconds: reply.retryAfterSeconds } : {}),
      },
    );
  }
  if (opened) return (raw ? Buffer.from(String(opened.bytes ?? ''), 'base64') : (opened.json ?? null)) as T;
  if (raw) return msg.data as T;
  return (msg.data.length === 0 ? null : msg.json()) as T;
}
