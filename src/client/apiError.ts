// The client's one error type for API failures: a non-2xx answer (or a watch ERROR event) carrying
// the server's `Status`. Callers branch on `code`/`reason` through the helpers, never on message text.
import type { Status } from 'kubernetes-types/meta/v1.js';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** HTTP status code of the failure (Status.code), e.g. 404, 409, 410. */
  readonly code: number;
  /** Status.reason (`NotFound`, `Conflict`, `Expired`, …); '' when the server gave none. */
  readonly reason: string;
  readonly details: Status['details'] | undefined;

  constructor(readonly status: Status, options?: { cause?: unknown }) {
    super(status.message ?? `${status.code ?? 0} ${status.reason ?? 'Unknown'}`, options);
    this.code = status.code ?? 0;
    this.reason = status.reason ?? '';
    this.details = status.details;
  }

  /** Builds an ApiError from an HTTP answer whose body may or may not be a Status. */
  static fromResponse(code: number, body: string, retryAfterSeconds?: number): ApiError {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    if (isStatus(parsed)) return new ApiError({ ...parsed, code: parsed.code ?? code });
    const status: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      code,
      reason: reasonForCode(code),
      message: body.trim() ? `the server responded ${code}: ${body.trim().slice(0, 500)}` : `the server responded ${code}`,
    };
    if (retryAfterSeconds !== undefined) status.details = { retryAfterSeconds };
    return new ApiError(status);
  }
}

/** True when `v` looks like a meta/v1 Status (the parsing boundary for error bodies and watch ERROR events). */
export function isStatus(v: unknown): v is Status {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'Status';
}

/** Upstream's reason for a code when the server sent no Status (apimachinery's NewGenericServerResponse). */
function reasonForCode(code: number): string {
  switch (code) {
    case 400: return 'BadRequest';
    case 401: return 'Unauthorized';
    case 403: return 'Forbidden';
    case 404: return 'NotFound';
    case 405: return 'MethodNotAllowed';
    case 406: return 'NotAcceptable';
    case 409: return 'Conflict';
    case 410: return 'Gone';
    case 413: return 'RequestEntityTooLarge';
    case 415: return 'UnsupportedMediaType';
    case 422: return 'Invalid';
    case 429: return 'TooManyRequests';
    case 500: return 'InternalError';
    case 503: return 'ServiceUnavailable';
    case 504: return 'Timeout';
    default: return 'Unknown';
  }
}

const has = (err: unknown, code: number, reason?: string): boolean =>
  err instanceof ApiError && (err.reason === reason || (err.code === code && (reason === undefined || err.reason === '' || err.reason === 'Unknown')));

export const isNotFound = (err: unknown): boolean => has(err, 404, 'NotFound');
export const isAlreadyExists = (err: unknown): boolean => has(err, 409, 'AlreadyExists');
/** A write lost an optimistic-concurrency race (resourceVersion or precondition mismatch). */
export const isConflict = (err: unknown): boolean => has(err, 409, 'Conflict');
/** 410: the resourceVersion asked for is compacted away (reason `Expired` or `Gone`); relist. */
export const isGone = (err: unknown): boolean => err instanceof ApiError && (err.code === 410 || err.reason === 'Expired' || err.reason === 'Gone');
export const isResourceExpired = isGone;
export const isTooManyRequests = (err: unknown): boolean => has(err, 429, 'TooManyRequests');
export const isInvalid = (err: unknown): boolean => has(err, 422, 'Invalid');
export const isBadRequest = (err: unknown): boolean => has(err, 400, 'BadRequest');
export const isForbidden = (err: unknown): boolean => has(err, 403, 'Forbidden');
export const isUnauthorized = (err: unknown): boolean => has(err, 401, 'Unauthorized');
export const isMethodNotAllowed = (err: unknown): boolean => has(err, 405, 'MethodNotAllowed');
export const isServerTimeout = (err: unknown): boolean => has(err, 500, 'ServerTimeout');
export const isTimeout = (err: unknown): boolean => has(err, 504, 'Timeout');
export const isServiceUnavailable = (err: unknown): boolean => has(err, 503, 'ServiceUnavailable');
export const isInternalError = (err: unknown): boolean => has(err, 500, 'InternalError');

/** The network failed before an HTTP answer arrived (refused, reset, TLS failure, DNS). */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
  constructor(message: string, readonly syscallCode: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export const isConnectionError = (err: unknown): err is ConnectionError => err instanceof ConnectionError;
