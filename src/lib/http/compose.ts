import type { NextFunction, Request, RequestHandler, Response } from 'express';

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';

/**
 * Several handlers as one, with Express 5's own rules: each runs when the one before calls
 * `next()`; `next(err)`, a throw or a rejected promise leaves the chain with that error (as do
 * `next('route')` and `next('router')`, which Express then applies); the last one's `next()`
 * continues after the chain.
 *
 * Express's router pays for every layer a request passes through: it matches the path again,
 * allocates the match and a callback, and rewrites `req.url` for mounted routers. Over a quarter of
 * the garbage of a heartbeat came from there. The global middleware and each route's handlers
 * are therefore one layer each.
 */
export function compose(handlers: readonly RequestHandler[]): RequestHandler {
  if (handlers.length === 1) return handlers[0] as RequestHandler;
  return (req: Request, res: Response, done: NextFunction) => {
    let index = 0;
    // As Express's own layers do: a promise rejected without a reason still counts as an error.
    const fail = (err: unknown) => done(err || new Error('Rejected promise'));
    const next = (err?: unknown) => {
      if (err) return done(err);
      const handler = handlers[index++];
      if (!handler) return done();
      try {
        const result: unknown = handler(req, res, next);
        if (isThenable(result)) result.then(undefined, fail);
      } catch (e) {
        done(e);
      }
    };
    next();
  };
}
