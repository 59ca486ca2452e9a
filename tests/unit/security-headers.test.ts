import express, { type RequestHandler } from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { securityHeaders } from '../../src/lib/http/security-headers.js';

const appWith = (middleware: RequestHandler) => {
  const app = express();
  app.use(middleware);
  app.get('/x', (_req, res) => {
    res.json({ ok: true });
  });
  return app;
};

/** Every response header but the ones that differ between any two responses. */
const stable = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'date'));

describe('securityHeaders', () => {
  it("sends exactly the headers, values and order of helmet's defaults", async () => {
    const [own, reference] = await Promise.all([request(appWith(securityHeaders())).get('/x'), request(appWith(helmet())).get('/x')]);
    expect(own.status).toBe(200);
    expect(Object.keys(stable(reference.headers as Record<string, string>))).toContain('content-security-policy');
    expect(stable(own.headers as Record<string, string>)).toEqual(stable(reference.headers as Record<string, string>));
    expect(Object.keys(own.headers)).toEqual(Object.keys(reference.headers));
  });

  it('removes X-Powered-By, as helmet does', async () => {
    const res = await request(appWith(securityHeaders())).get('/x');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
  });

  it('gives every response its own copy: a header a handler changes is not changed for the next', async () => {
    const app = express();
    app.use(securityHeaders());
    app.get('/open', (_req, res) => {
      res.setHeader('X-Frame-Options', 'DENY');
      res.removeHeader('Content-Security-Policy');
      res.json({ ok: true });
    });
    app.get('/x', (_req, res) => {
      res.json({ ok: true });
    });
    const changed = await request(app).get('/open');
    expect(changed.headers['x-frame-options']).toBe('DENY');
    expect(changed.headers['content-security-policy']).toBeUndefined();
    const next = await request(app).get('/x');
    expect(next.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(next.headers['content-security-policy']).toContain("default-src 'self'");
  });
});
