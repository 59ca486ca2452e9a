import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, normalizeError } from '../errors/index.js';
import type { Logger } from '../logger.js';
import { requestIdOf } from './request-context.js';
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
    const appError = reportError(logger, err, { requestId: requestIdOf(res), method: req.method, path: req.path });
    if (appError.code === 'PAYLOAD_TOO_LARGE' || appError.code === 'INVALID_JSON') res.setHeader('Connection', 'close');
    sendError(res, appError);
  };
}

interface KnownRoute {
  method: string;
  match: (path: string) => boolean;
}

/**
 * 405 with `Allow` for a known path and another method; 404 for everything else. OPTIONS on a
 * known path goes on to Express's router, which answers it with the path's methods (200,
 * `Allow`). (A CORS preflight from an allowed origin never gets here: the cors middleware
 * answers it.)
 */
export function notFoundHandler(routes: KnownRoute[]): RequestHandler {
  return (req, _res, next) => {
    const allowed = new Set(routes.filter((r) => r.match(req.path)).map((r) => r.method.toUpperCase()));
    if (allowed.size > 0 && req.method === 'OPTIONS') return next();
    if (allowed.size > 0 && !allowed.has(req.method)) {
      if (allowed.has('GET')) allowed.add('HEAD');
      throw new AppError('METHOD_NOT_ALLOWED', `Method ${req.method} is not allowed on ${req.path}`, { headers: { Allow: [...allowed].sort().join(', ') } });
    }
    throw new AppError('ROUTE_NOT_FOUND', `Route ${req.method} ${req.path} not found`);
  };
}
