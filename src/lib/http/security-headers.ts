import type { RequestHandler, Response } from 'express';
import helmet from 'helmet';

/**
 * helmet's response headers with its default options, worked out once at start instead of per
 * request. With those options no header depends on the request (no directive is a function, no
 * nonce), so every response gets the same ones; helmet's twelve middlewares rebuilt the
 * Content-Security-Policy string and passed twelve callbacks for each request, about 4% of a
 * heartbeat's CPU and 5% of its garbage. Here helmet runs once against a recorder and each
 * response gets what it recorded, in the same order; a test compares both on a live response.
 */
export function securityHeaders(): RequestHandler {
  const set: [name: string, value: string][] = [];
  const removed: string[] = [];
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      set.push([name, String(value)]);
      return recorder;
    },
    removeHeader: (name: string) => {
      removed.push(name);
    },
  };
  let completed = false;
  helmet()({} as never, recorder as unknown as Response, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error(String(err));
    completed = true;
  });
  // helmet's middlewares are synchronous; a version that is not would record nothing of use.
  if (!completed || set.length === 0) throw new Error('helmet did not set its headers synchronously: pass helmet() itself instead');
  return (_req, res, next) => {
    for (const name of removed) res.removeHeader(name);
    for (const [name, value] of set) res.setHeader(name, value);
    next();
  };
}
