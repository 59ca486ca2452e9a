import http from 'node:http';
import type { Express } from 'express';

/**
 * The HTTP server for an app, with requests and responses created on the app's own prototypes.
 *
 * Express gives every request and response its prototype (`app.request`, `app.response`) with
 * `Object.setPrototypeOf` when they reach the app (expressjs/express#5998 measures the cost).
 * V8 handles a changed prototype badly: under heartbeat load, 3.1 MB of young objects survived
 * each scavenge and 2.1 MB were promoted, so the old generation was collected about four times a
 * second. With the objects created on the right prototype, 0.6 MB survive and 0.3 MB are promoted
 * (see docs/performance.md).
 *
 * Node creates them here as instances of subclasses whose prototypes sit on top of the app's
 * (so `req.app`, `req.ip`, `res.status` and the rest resolve as before), and those prototypes
 * become the app's `request` and `response`: Express then sets the prototype each object already
 * has, which changes nothing. An app served otherwise (`app.listen`, supertest) works as before.
 */
export function createHttpServer(app: Express): http.Server {
  class AppRequest extends http.IncomingMessage {}
  class AppResponse extends http.ServerResponse {}
  Object.setPrototypeOf(AppRequest.prototype, app.request);
  Object.setPrototypeOf(AppResponse.prototype, app.response);
  app.request = AppRequest.prototype as Express['request'];
  app.response = AppResponse.prototype as Express['response'];
  return http.createServer({ IncomingMessage: AppRequest, ServerResponse: AppResponse }, app);
}

/** How many requests `server` is answering now: counted from each request's arrival until its response closes. */
export function countRequests(server: http.Server): () => number {
  let n = 0;
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    n++;
    res.once('close', () => n--);
  });
  return () => n;
}
