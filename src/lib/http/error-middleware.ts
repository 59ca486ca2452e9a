import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, normalizeError } from '../errors/index.js';
import type { Logger } from '../logger.js';
import { sendError } from './respond.js';

/**
 * Logs an error the way every part of the app does: unknown (500) errors with the stack at
 * error level, expected client errors at debug. Used by the error middleware, background jobs
 * and the process-level handlers.
 */
export function reportError(logger: Logger, err: unknown, context: Record<string, unknown> = {}): AppError {
  const appError = normalizeError(err);
  if (appError.code === 'INTERNAL_ERROR') {
    const cause = appError.cause ?? err;
    logger.error(cause instanceof Error ? cause.message : 'Unexpected error', { ...context, error: cause });
  } else if (appError.code === 'SERVICE_UNAVAILABLE') {
    logger.warn(appError.message, { ...context, cause: appError.cause instanceof Error ? appError.cause.message : undefined });
  } else {
    logger.debug(appError.message, { ...context, code: appError.code });
  }
  return appError;
}

export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const appError = reportError(logger, err, { method: req.method, path: req.path });
    if (appError.code === 'PAYLOAD_TOO_LARGE' || appError.code === 'INVALID_JSON') res.setHeader('Connection', 'close');
    sendError(res, appError);
  };
}

interface KnownRoute {
  method: string;
  match: (path: string) => boolean;
}

/**
 * For a known path and another method: the methods it allows, as Express answers an OPTIONS
 * request (200, `Allow`), or 405 with `Allow`. 404 for everything else. (A CORS preflight from an
 * allowed origin never gets here: the cors middleware answers it.)
 */
export function notFoundHandler(routes: KnownRoute[]): RequestHandler {
  return (req, res) => {
    const allowed = new Set(routes.filter((r) => r.match(req.path)).map((r) => r.method.toUpperCase()));
    if (allowed.size > 0 && !allowed.has(req.method)) {
      if (allowed.has('GET')) allowed.add('HEAD');
      const allow = [...allowed].sort().join(', ');
      if (req.method === 'OPTIONS') {
        res.setHeader('Allow', allow);
        res.type('text/plain').send(allow);
        return;
      }
      throw new AppError('METHOD_NOT_ALLOWED', `Method ${req.method} is not allowed on ${req.path}`, { headers: { Allow: allow } });
    }
    throw new AppError('ROUTE_NOT_FOUND', `Route ${req.method} ${req.path} not found`);
  };
}
