import { AsyncLocalStorage } from 'node:async_hooks';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { compose } from '../../src/lib/http/compose.js';

/** An app with `chain` composed on GET /x, a fallback route after it, and an error handler. */
function appWith(chain: RequestHandler[], seen: string[] = []) {
  const app = express();
  app.get('/x', compose(chain));
  app.get('/x', (_req, res) => {
    res.json({ from: 'next route', seen });
  });
  const onError: ErrorRequestHandler = (err: Error, _req, res, _next) => {
    res.status(500).json({ error: err.message, seen });
  };
  app.use(onError);
  return app;
}

const mark =
  (seen: string[], name: string): RequestHandler =>
  (_req, _res, next) => {
    seen.push(name);
    next();
  };

describe('compose', () => {
  it('runs the handlers in order, each when the one before calls next, and the last one answers', async () => {
    const seen: string[] = [];
    const app = appWith([
      mark(seen, 'a'),
      (_req, _res, next) => {
        seen.push('b');
        setTimeout(next, 5); // an asynchronous next, as body parsing does
      },
      mark(seen, 'c'),
      (_req, res) => {
        res.json({ seen });
      },
    ]);
    const res = await request(app).get('/x');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ seen: ['a', 'b', 'c'] });
  });

  it('continues after the chain when its last handler calls next', async () => {
    const seen: string[] = [];
    const res = await request(appWith([mark(seen, 'a'), mark(seen, 'b')], seen)).get('/x');
    expect(res.body).toEqual({ from: 'next route', seen: ['a', 'b'] });
  });

  it.each([
    ['calls next with an error', ((_req, _res, next) => next(new Error('passed'))) as RequestHandler, 'passed'],
    ['throws', (() => {
      throw new Error('thrown');
    }) as RequestHandler, 'thrown'],
    ['returns a rejected promise', (async () => {
      await Promise.resolve();
      throw new Error('rejected');
    }) as RequestHandler, 'rejected'],
  ])('leaves the chain for the error handler when a handler %s', async (_name, failing, message) => {
    const seen: string[] = [];
    const res = await request(appWith([mark(seen, 'a'), failing, mark(seen, 'never')], seen)).get('/x');
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: message, seen: ['a'] });
  });

  it("passes next('route') on to Express, which skips to the next route", async () => {
    const seen: string[] = [];
    const res = await request(appWith([mark(seen, 'a'), (_req, _res, next) => next('route'), mark(seen, 'never')], seen)).get('/x');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ from: 'next route', seen: ['a'] });
  });

  it('keeps an AsyncLocalStorage context that a handler opens for the handlers after it', async () => {
    const storage = new AsyncLocalStorage<string>();
    const app = appWith([
      (_req, _res, next) => storage.run('the request', next),
      (_req, _res, next) => {
        setImmediate(next);
      },
      (_req, res) => {
        res.json({ store: storage.getStore() ?? null });
      },
    ]);
    expect((await request(app).get('/x')).body).toEqual({ store: 'the request' });
  });

  it('returns a single handler as it is', () => {
    const only: RequestHandler = (_req, _res, next) => next();
    expect(compose([only])).toBe(only);
  });
});
