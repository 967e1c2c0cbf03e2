import { headers, type Msg, type NatsConnection, type RequestOptions } from '@nats-io/nats-core';
import type { ServiceMsg } from '@nats-io/services';
import { CastpoolError, codeForStatus, type ErrorCode, errorStatus } from '../errors.js';

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

/** Answers a service request with the result as JSON, or a service error (code = HTTP status). */
export async function answer(
  msg: ServiceMsg,
  work: () => Promise<unknown>,
  onError?: (reply: ErrorReply) => void,
): Promise<void> {
  try {
    const result = await work();
    msg.respond(result instanceof Uint8Array ? result : JSON.stringify(result ?? null));
  } catch (error) {
    const reply = errorReply(error);
    onError?.(reply);
    msg.respondError(reply.statusCode, reply.message, JSON.stringify(reply));
  }
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

/**
 * A command sent to another node (or the fleet's service): the reply, or the error it carried as a
 * CastpoolError with the same code. No answer in time is 504; no connection is 503.
 */
export async function call<T>(
  nc: NatsConnection,
  subject: string,
  payload: unknown,
  timeoutMs: number,
  raw = false,
  token?: string,
): Promise<T> {
  let msg: Msg;
  try {
    const options: RequestOptions = { timeout: timeoutMs };
    if (token) {
      options.headers = headers();
      options.headers.set('Authorization', `Bearer ${token}`);
    }
    msg = await nc.request(subject, JSON.stringify(payload ?? {}), options);
  } catch (error) {
    const text = String((error as Error).message ?? error);
    if (/timeout/i.test(text) || (error as { name?: string }).name === 'TimeoutError')
      throw new CastpoolError('timeout', `no answer on ${subject} within ${timeoutMs} ms`, {
        retryable: true,
        cause: error,
      });
    if (/no responders/i.test(text) || (error as { name?: string }).name === 'NoRespondersError')
      throw new CastpoolError('unavailable', `nobody serves ${subject} now`, {
        retryable: true,
        cause: error,
      });
    throw new CastpoolError('unavailable', `NATS request failed: ${text}`, { retryable: true, cause: error });
  }
  const status = Number(msg.headers?.get(ERROR_CODE_HEADER) || 0);
  if (status > 0) {
    let reply: Partial<ErrorReply> = {};
    try {
      reply = msg.json<ErrorReply>();
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
  if (raw) return msg.data as T;
  return (msg.data.length === 0 ? null : msg.json()) as T;
}
