import http from 'node:http';
import type { Express } from 'express';

/**
 * The HTTP server for an app, with requests and responses created on the app's own prototypes.
 *
 * Express gives every request and response its prototype (`app.request`, `app.response`) with
 * `Object.setPrototypeOf` when they reach the app (expressjs/express#5998 measures the cost).
 * Changing the prototype of a new object is what V8 handles worst: under heartbeat load, 3.5 MB
 * of young objects survived each scavenge and 3.4 MB were promoted, which made the old generation
 * collect four times a second; with the objects created on the right prototype, 0.2 MB survived
 * and nothing was promoted (see the Performance section of the README).
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
