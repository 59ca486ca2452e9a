import type { Request, RequestHandler } from 'express';
import { rateLimit, type Store } from 'express-rate-limit';
import { AppError } from '../errors/index.js';

export type RateLimitStoreFactory = (name: string) => Store;

export interface LimiterOptions {
  name: string;
  windowMs: number;
  /** 0 disables the limiter. */
  max: number;
  key?: (req: Request) => string | undefined;
  skip?: (req: Request) => boolean;
  store?: RateLimitStoreFactory;
  message?: string;
}

/**
 * express-rate-limit with the API's error envelope and a `Retry-After` header. The store is
 * in-memory unless a factory is given (e.g. a Redis store shared by several instances).
 */
export function createLimiter(opts: LimiterOptions): RequestHandler {
  if (opts.max <= 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: opts.windowMs,
    limit: opts.max,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    identifier: opts.name,
    store: opts.store?.(opts.name),
    keyGenerator: opts.key
      ? (req) => `${opts.name}:${opts.key?.(req) ?? 'anonymous'}`
      : (req) => `${opts.name}:${ipKey(req)}`,
    // The key of a per-account limiter comes from the body; skip when there is none to key on.
    skip: (req) => opts.skip?.(req) ?? (opts.key ? opts.key(req) === undefined : false),
    handler: (req, _res, next) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfter = Math.max(1, Math.ceil(((reset?.getTime() ?? Date.now() + opts.windowMs) - Date.now()) / 1000));
      next(new AppError('RATE_LIMITED', opts.message ?? 'Too many requests, please try again later', { headers: { 'Retry-After': String(retryAfter) } }));
    },
    validate: { keyGeneratorIpFallback: false },
  });
}

/** IPv6 clients are keyed by their /64, since one host usually owns the whole prefix. */
function ipKey(req: Request): string {
  const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
  if (ip.includes(':') && !ip.startsWith('::ffff:')) return ip.split(':').slice(0, 4).join(':') + '::/64';
  return ip;
}
