import WebSocket from 'ws';
import { CastpoolError, type ErrorCode, errorStatus } from '../errors.js';

/** Marks a connection one node relays to another: the owner serves it, never relays it again. */
export const RELAYED_HEADER = 'x-castpool-relayed';
/** How long the owner node has to take the relayed connection. */
const CONNECT_TIMEOUT_MS = 10_000;
/** A side that does not read this much is cut off (1013) instead of queued without bound. */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

interface Socket {
  send(data: string | Buffer): void;
  close(code?: number, reason?: string): void;
  readonly bufferedAmount: number;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
}

/**
 * Opens the owner node's CDP endpoint for a client of another node, with the client's credential
 * (the owner checks it as its own: API tokens and session tokens are the fleet's). The owner's
 * refusal (401, 403, 404, 409) comes back as the same error; the URL is the owner's sealed lease.
 */
export function connectToOwner(endpoint: string, token: string | undefined): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const upstream = new WebSocket(endpoint, {
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), [RELAYED_HEADER]: '1' },
      maxPayload: 256 * 1024 * 1024,
      perMessageDeflate: false,
    });
    const timer = setTimeout(() => {
      upstream.terminate();
      reject(
        new CastpoolError(
          'timeout',
          `the session's node did not take the connection in ${CONNECT_TIMEOUT_MS / 1000} s`,
        ),
      );
    }, CONNECT_TIMEOUT_MS);
    upstream.once('open', () => {
      clearTimeout(timer);
      resolve(upstream);
    });
    upstream.once('unexpected-response', (request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        if (body.length < 4096) body += chunk;
      });
      response.on('end', () => {
        clearTimeout(timer);
        request.destroy();
        let answer: { error?: string; message?: string } = {};
        try {
          answer = JSON.parse(body);
        } catch {
          // not castpool's JSON: named by its status below
        }
        const code = (
          answer.error && answer.error in errorStatus ? answer.error : 'unavailable'
        ) as ErrorCode;
        reject(
          new CastpoolError(code, answer.message ?? `the session's node answered ${response.statusCode}`),
        );
      });
    });
    upstream.once('error', (error) => {
      clearTimeout(timer);
      reject(
        new CastpoolError('unavailable', `the session's node cannot be reached: ${error.message}`, {
          retryable: true,
        }),
      );
    });
  });
}

/** Pipes a client's socket to the owner node's, both ways; either side's close closes the other. */
export function relay(client: Socket, upstream: Socket): void {
  let open = true;
  const closeBoth = (code: number, reason: string) => {
    if (!open) return;
    open = false;
    // 1005/1006 are not codes one may send: the other side hears a normal going-away instead.
    const sendable = code >= 1000 && code !== 1005 && code !== 1006 ? code : 1001;
    client.close(sendable, reason);
    upstream.close(sendable, reason);
  };
  const forward = (to: Socket) => (data: Buffer, isBinary: boolean) => {
    if (!open) return;
    if (to.bufferedAmount > MAX_BUFFERED_BYTES) {
      closeBoth(1013, 'castpool: a side of the relay stopped reading');
      return;
    }
    to.send(isBinary ? data : data.toString('utf8'));
  };
  client.on('message', forward(upstream));
  upstream.on('message', forward(client));
  client.on('close', (code, reason) => closeBoth(code, String(reason)));
  upstream.on('close', (code, reason) => closeBoth(code, String(reason)));
  client.on('error', () => closeBoth(1011, 'castpool: the client connection failed'));
  upstream.on('error', () => closeBoth(1011, "castpool: the session's node connection failed"));
}
