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
  /**
   * Count failed requests only: a successful one (status below 400) clears its key, failures
   * before it included, through the store's own resetKey (so it works with any store).
   */
  failuresOnly?: boolean;
}

/**
 * express-rate-limit with the API's error envelope and a `Retry-After` header. The store is
 * in-memory unless a factory is given (e.g. a Redis store shared by several instances).
 */
export function createLimiter(opts: LimiterOptions): RequestHandler {
  if (opts.max <= 0) return (_req, _res, next) => next();
  const clientKey = (req: Request) => (opts.key ? opts.key(req) : ipKey(req));
  const limiter = rateLimit({
    windowMs: opts.windowMs,
    limit: opts.max,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    identifier: opts.name,
    store: opts.store?.(opts.name),
    keyGenerator: (req) => `${opts.name}:${clientKey(req) ?? 'anonymous'}`,
    // The key of a per-account limiter comes from the body; skip when there is none to key on.
    skip: (req) => opts.skip?.(req) ?? (opts.key ? opts.key(req) === undefined : false),
    handler: (req, _res, next) => {
      const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfter = Math.max(1, Math.ceil(((reset?.getTime() ?? Date.now() + opts.windowMs) - Date.now()) / 1000));
      next(new AppError('RATE_LIMITED', opts.message ?? 'Too many requests, please try again later', { headers: { 'Retry-After': String(retryAfter) } }));
    },
    validate: { keyGeneratorIpFallback: false },
  });
  if (!opts.failuresOnly) return limiter;
  return (req, res, next) => {
    // Read now: the key comes from the body, which later middleware may replace.
    const key = clientKey(req);
    if (key !== undefined && !opts.skip?.(req)) {
      res.once('finish', () => {
        if (res.statusCode < 400) void (async () => limiter.resetKey(`${opts.name}:${key}`))().catch(() => undefined);
      });
    }
    return limiter(req, res, next);
  };
}

/** IPv6 clients are keyed by their /64, since one host usually owns the whole prefix. */
export function ipKey(req: Request): string {
  const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
  if (ip.includes(':') && !ip.startsWith('::ffff:')) return ip.split(':').slice(0, 4).join(':') + '::/64';
  return ip;
}
