import type { RequestHandler } from 'express';
import type { Logger } from '../logger.js';
import { requestIdOf } from './request-context.js';

/** One line per request: id, method, path (never the query string, which may carry secrets), status, duration. */
export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    // winston formats every entry before its transports filter by level: skip the work when no
    // transport would write an access line (LOG_LEVEL above http).
    if (!logger.isLevelEnabled('http')) return next();
    const start = process.hrtime.bigint();
    // Taken now: inside a mounted router req.path is relative to the mount point by the time the response finishes.
    const path = req.path;
    res.on('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - start) / 1e6;
      logger.http(`${req.method} ${path} ${res.statusCode} ${durationMs.toFixed(1)}ms`, {
        requestId: requestIdOf(res),
        method: req.method,
        path,
        status: res.statusCode,
        durationMs: Math.round(durationMs * 10) / 10,
      });
    });
    next();
  };
}
