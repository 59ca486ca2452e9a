import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { countRequests, createHttpServer } from '../../src/lib/http/server.js';

function appUnderTest() {
  const app = express();
  app.set('trust proxy', 'loopback');
  app.get('/who', (req, res) => {
    res.status(201).json({ app: req.app === app, ip: req.ip, host: req.hostname, accepts: req.accepts('json'), locals: typeof res.locals });
  });
  app.get('/redirect', (_req, res) => res.redirect('/who'));
  return app;
}

/** Serves the app and records, for each request, whether its objects had the app's prototypes before Express saw them. */
async function serve(app: express.Express, server: http.Server) {
  const seen: boolean[] = [];
  server.prependListener('request', (req, res) => seen.push(Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { seen, base };
}

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('createHttpServer', () => {
  it("creates requests and responses on the app's prototypes, so Express changes no prototype", async () => {
    const app = appUnderTest();
    const server = createHttpServer(app);
    servers.push(server);
    const { seen, base } = await serve(app, server);

    const res = await fetch(`${base}/who`, { headers: { 'x-forwarded-for': '203.0.113.9', accept: 'application/json' } });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ app: true, ip: '203.0.113.9', host: '127.0.0.1', accepts: 'json', locals: 'object' });
    const moved = await fetch(`${base}/redirect`, { redirect: 'manual' });
    expect([moved.status, moved.headers.get('location')]).toEqual([302, '/who']);
    expect(seen).toEqual([true, true]);
  });

  it('leaves the app working on a plain server, where Express sets the prototypes itself', async () => {
    const app = appUnderTest();
    createHttpServer(app);
    const plain = http.createServer(app);
    servers.push(plain);
    const { seen, base } = await serve(app, plain);

    const res = await fetch(`${base}/who`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ app: true, accepts: 'json' });
    expect(seen).toEqual([false]);
  });
});

describe('countRequests', () => {
  it('counts a request from its arrival until its response closes, answered or cut off', async () => {
    const app = express();
    const waiting: (() => void)[] = [];
    app.get('/slow', (_req, res) => void waiting.push(() => res.json({ ok: true })));
    const server = createHttpServer(app);
    servers.push(server);
    const inFlight = countRequests(server);
    const { base } = await serve(app, server);
    const until = async (n: number) => {
      for (let i = 0; i < 200 && inFlight() !== n; i++) await new Promise((r) => setTimeout(r, 10));
      return inFlight();
    };
    expect(inFlight()).toBe(0);
    const answered = Promise.all([fetch(`${base}/slow`), fetch(`${base}/slow`)]);
    const aborted = new AbortController();
    const cut = fetch(`${base}/slow`, { signal: aborted.signal }).catch(() => 'aborted');
    expect(await until(3)).toBe(3);
    aborted.abort();
    expect(await cut).toBe('aborted');
    expect(await until(2)).toBe(2);
    for (const answer of waiting.splice(0, 2)) answer();
    expect((await answered).map((r) => r.status)).toEqual([200, 200]);
    expect(await until(0)).toBe(0);
    server.closeAllConnections();
  });
});
