/** Error codes shared by REST (HTTP status) and NATS service errors (the same number as the code). */
export const errorStatus = {
  bad_request: 400,
  url_refused: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  not_acceptable: 406,
  conflict: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  capacity: 429,
  rate_limited: 429,
  internal: 500,
  navigation_failed: 502,
  unavailable: 503,
  host_saturated: 503,
  timeout: 504,
  insufficient_storage: 507,
} as const;
export type ErrorCode = keyof typeof errorStatus;

/** A typed, user-facing failure: `code` maps to an HTTP status; `retryable` says whether trying again may help. */
export class CastpoolError extends Error {
  override readonly name = 'CastpoolError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly options: {
      retryable?: boolean;
      retryAfterSeconds?: number;
      cause?: unknown;
      /** The request never reached anyone (NATS: no responders): safe to send elsewhere. */
      undelivered?: boolean;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = errorStatus[code];
  }
  get retryable(): boolean {
    return this.options.retryable ?? false;
  }
}

export const notFound = (what: string) => new CastpoolError('not_found', `${what} not found`);

/** The error code for an HTTP status (NATS service errors carry the status). */
export function codeForStatus(status: number): ErrorCode {
  const found = Object.entries(errorStatus).find(([, value]) => value === status);
  return (found?.[0] as ErrorCode | undefined) ?? (status >= 500 ? 'internal' : 'bad_request');
}
