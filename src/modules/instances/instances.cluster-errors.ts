/**
 * Errors from the cluster, typed so job handlers can decide: `retryable` (throttling, server errors,
 * timeouts, resets, a namespace still terminating, an optimistic-concurrency conflict) and
 * `retryAfterSeconds` (the server's Retry-After). A plain Error with fields, not a class of its own.
 */

export interface ClusterErrorCause {
  reason?: string;
  field?: string;
  message?: string;
}

export interface ClusterErrorInfo {
  /** HTTP status; undefined when no answer came (reset, refused, timeout). */
  statusCode?: number;
  /** The Status reason (NotFound, AlreadyExists, Conflict, Invalid, Forbidden, TooManyRequests...), or NetworkError / Timeout. */
  reason: string;
  retryable: boolean;
  retryAfterSeconds?: number;
  causes: ClusterErrorCause[];
  /** What was attempted: "apply Deployment msp-x/app". */
  operation: string;
}

export type ClusterError = Error & ClusterErrorInfo & { name: 'ClusterError' };

const REASON_BY_STATUS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict', 410: 'Expired',
  415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET']);

export const isClusterError = (err: unknown): err is ClusterError => err instanceof Error && err.name === 'ClusterError' && 'retryable' in err;

export function clusterError(info: ClusterErrorInfo, message: string, cause?: unknown): ClusterError {
  const err = new Error(`Kubernetes API: ${info.operation} failed: ${message}`, { cause }) as ClusterError;
  err.name = 'ClusterError';
  return Object.assign(err, info);
}

const header = (headers: unknown, name: string): string | undefined => {
  if (!headers || typeof headers !== 'object') return undefined;
  const entry = Object.entries(headers as Record<string, unknown>).find(([k]) => k.toLowerCase() === name);
  return entry === undefined ? undefined : String(entry[1]);
};

function retryAfterOf(headers: unknown, details: { retryAfterSeconds?: unknown } | undefined): number | undefined {
  const value = header(headers, 'retry-after');
  if (value !== undefined) {
    const seconds = /^\d+$/.test(value.trim()) ? Number(value) : Math.ceil((Date.parse(value) - Date.now()) / 1000);
    if (Number.isFinite(seconds)) return Math.max(seconds, 0);
  }
  return typeof details?.retryAfterSeconds === 'number' ? details.retryAfterSeconds : undefined;
}

/** Turns anything the client threw (ApiException with a Status body, a fetch error, an abort) into a ClusterError. */
export function toClusterError(err: unknown, operation: string): ClusterError {
  if (isClusterError(err)) return err;
  const e = err as { code?: unknown; body?: unknown; headers?: unknown; name?: unknown; type?: unknown; errno?: unknown; message?: unknown };
  if (typeof e?.code === 'number' && e.code >= 100) {
    const body = (typeof e.body === 'string' ? safeJson(e.body) : e.body) as { reason?: string; message?: string; details?: { causes?: ClusterErrorCause[]; retryAfterSeconds?: number } } | undefined;
    const statusCode = e.code;
    const reason = body?.reason || REASON_BY_STATUS[statusCode] || 'Unknown';
    const causes = Array.isArray(body?.details?.causes) ? body.details.causes : [];
    const terminating = causes.some((c) => c.reason === 'NamespaceTerminating');
    const fieldConflict = causes.some((c) => c.reason === 'FieldManagerConflict');
    const retryable = RETRYABLE_STATUS.has(statusCode) || terminating || (statusCode === 409 && reason === 'Conflict' && !fieldConflict);
    const retryAfterSeconds = retryAfterOf(e.headers, body?.details);
    const text = body?.message ?? (typeof e.message === 'string' ? e.message.split('\n')[0] : 'request failed');
    return clusterError({ statusCode, reason, retryable, causes, operation, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) }, `${statusCode} ${reason}: ${text}`, err);
  }
  const code = typeof e?.code === 'string' ? e.code : typeof e?.errno === 'string' ? e.errno : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError' || e?.type === 'aborted') {
    return clusterError({ reason: 'Timeout', retryable: true, causes: [], operation }, 'no answer in time', err);
  }
  if ((code && NETWORK_CODES.has(code)) || e?.type === 'system' || /socket hang up|ECONNRESET|ECONNREFUSED/.test(message)) {
    return clusterError({ reason: 'NetworkError', retryable: true, causes: [], operation }, message, err);
  }
  return clusterError({ reason: 'ClientError', retryable: false, causes: [], operation }, message, err);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
