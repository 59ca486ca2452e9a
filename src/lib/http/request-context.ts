import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Logger } from '../logger.js';

// A client-supplied id is honoured only when it is short and plain, so it cannot inject into logs.
const SAFE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Gives every request an id (the client's when it is safe, else a new UUID), echoed as `x-request-id`. */
export const requestContext = (): RequestHandler => (req, res, next) => {
  const incoming = req.get('x-request-id');
  const requestId = incoming && SAFE_ID.test(incoming) ? incoming : randomUUID();
  res.locals.requestId = requestId;
  res.setHeader('x-request-id', requestId);
  next();
};

export const requestIdOf = (res: Response): string | undefined => res.locals.requestId as string | undefined;

/**
 * A service's dependencies with a logger that puts this request's id on every line it writes.
 * The id is passed, not kept in an AsyncLocalStorage: on Node 20 and 22 an AsyncLocalStorage
 * hooks the creation of every promise in the process, which cost about 5% of the CPU of every
 * request (measured on heartbeats), for the few requests whose services log.
 */
export function forRequest<D extends { logger: Logger }>(deps: D, res: Response): D {
  return { ...deps, logger: deps.logger.child({ requestId: requestIdOf(res) }) };
}
