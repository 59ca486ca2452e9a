import { ZodError } from 'zod';
import jwt from 'jsonwebtoken';
import { AppError, type FieldError } from './app-error.js';

/** Prisma error codes that mean "the database cannot be reached right now". */
const UNREACHABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
const UNREACHABLE_NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006']);
const UNREACHABLE_MESSAGE = /connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|Connection terminated|database system is (shutting down|starting up|not yet accepting connections)|the database system is in recovery|Client has encountered a connection error|DatabaseNotReachable|ConnectionClosed|SocketTimeout|Can't reach database server|Server has closed the connection/i;

export function zodToFieldErrors(error: ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.map(String).join('.') : (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '(root)'),
    message: issue.message,
  }));
}

function prismaTarget(meta: unknown): string {
  const m = meta as { target?: unknown; driverAdapterError?: { cause?: { constraint?: { fields?: string[] } } } } | undefined;
  const fields = m?.driverAdapterError?.cause?.constraint?.fields;
  if (Array.isArray(fields) && fields.length > 0) return fields.join(', ');
  if (Array.isArray(m?.target)) return (m.target as string[]).join(', ');
  if (typeof m?.target === 'string') return m.target;
  return 'value';
}

/** Error codes an error carries; a failed raw query (P2010) keeps the database's own code in `meta.code`. */
function codesOf(err: unknown): string[] {
  const e = err as { code?: unknown; meta?: { code?: unknown }; cause?: { code?: unknown; originalCode?: unknown; kind?: unknown } } | null;
  return [e?.code, e?.meta?.code, e?.cause?.originalCode, e?.cause?.code].filter((c): c is string => typeof c === 'string');
}

/** The error an error wraps: its `cause`, or for Prisma's errors over a driver adapter the adapter's error in `meta`. */
function innerOf(err: unknown): unknown {
  const e = err as { cause?: unknown; meta?: { driverAdapterError?: unknown } };
  return e.cause ?? e.meta?.driverAdapterError;
}

/** True when an error (of any layer: pg, the Prisma adapter, Prisma) says the database is unreachable. */
export function isDatabaseUnavailable(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; current && depth < 5; depth++) {
    if (codesOf(current).some((code) => UNREACHABLE_PRISMA_CODES.has(code) || UNREACHABLE_NET_CODES.has(code))) return true;
    const kind = (current as { cause?: { kind?: unknown } }).cause?.kind;
    if (kind === 'DatabaseNotReachable' || kind === 'ConnectionClosed' || kind === 'SocketTimeout') return true;
    const message = (current as { message?: unknown }).message;
    if (typeof message === 'string' && UNREACHABLE_MESSAGE.test(message)) return true;
    current = innerOf(current);
  }
  return false;
}

/**
 * Turns anything thrown into an AppError. Unknown errors become INTERNAL_ERROR with a
 * generic message: the original is kept as `cause` for the log, never sent to the client.
 */
export function normalizeError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof ZodError) return new AppError('VALIDATION_ERROR', 'Validation failed', { errors: zodToFieldErrors(err), cause: err });
  if (err instanceof jwt.TokenExpiredError) return new AppError('TOKEN_EXPIRED', 'Token has expired', { cause: err });
  if (err instanceof jwt.JsonWebTokenError || err instanceof jwt.NotBeforeError) return new AppError('INVALID_TOKEN', 'Invalid token', { cause: err });

  const e = err as { type?: unknown; status?: unknown; expose?: unknown; name?: unknown; code?: unknown; meta?: unknown };
  // body-parser errors carry a `type`.
  if (e?.type === 'entity.parse.failed') return new AppError('INVALID_JSON', 'Malformed JSON in request body', { cause: err });
  if (e?.type === 'entity.too.large') return new AppError('PAYLOAD_TOO_LARGE', 'Request body is too large', { cause: err });
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported content encoding', { cause: err });
  if (e?.type === 'request.aborted') return new AppError('VALIDATION_ERROR', 'Request aborted', { cause: err });
  // The router marks an undecodable path parameter (`/users/%E0%A4%A`) as a URIError with status 400.
  if (err instanceof URIError && e.status === 400) return new AppError('VALIDATION_ERROR', 'Malformed percent-encoding in the request path', { cause: err });
  // http-errors' client errors (`expose`), e.g. body-parser's wrapper around a corrupt gzip or brotli body, carry no `type`.
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && (typeof e.type === 'string' || e.expose === true)) {
    return new AppError('VALIDATION_ERROR', 'Invalid request', { cause: err });
  }

  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code === 'P2002') {
    const target = prismaTarget(e.meta);
    return new AppError('CONFLICT', `A record with this ${target} already exists`, { errors: [{ field: target, message: `${target} is already taken` }], cause: err });
  }
  if (code === 'P2025' || code === 'P2001') return new AppError('NOT_FOUND', 'Record not found', { cause: err });
  if (code === 'P2003' || code === 'P2014') return new AppError('CONFLICT', 'The record is referenced by other records', { cause: err });
  if (code === 'P2000') return new AppError('VALIDATION_ERROR', 'A value is too long for its field', { cause: err });
  if (isDatabaseUnavailable(err)) return new AppError('SERVICE_UNAVAILABLE', 'The database is temporarily unavailable', { cause: err });

  return new AppError('INTERNAL_ERROR', 'Internal server error', { cause: err });
}
