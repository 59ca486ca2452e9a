import { afterAll, describe, expect, it } from 'vitest';
import { toOpenApiPath } from '../../src/lib/http/routes.js';
import { createTestContext } from '../helpers/app.js';

const ctx = createTestContext();
afterAll(() => ctx.close());

interface Layer {
  rawPath?: string;
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every route actually mounted on the Express app, read from its router stack (not from our own route list). */
function mountedRoutes(stack: Layer[], prefix = ''): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) {
      const path = (prefix + layer.route.path).replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
      return Object.keys(layer.route.methods).filter((m) => m !== '_all').map((m) => `${m} ${path}`);
    }
    if (layer.handle?.stack && typeof layer.rawPath === 'string') return mountedRoutes(layer.handle.stack, prefix + layer.rawPath);
    return [];
  });
}

describe('GET /api/v1/openapi.json', () => {
  it('serves an OpenAPI 3 document', async () => {
    const res = await ctx.request.get('/api/v1/openapi.json').expect(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(res.body.info.title).toBe('minispod API');
  });

  it('documents every mounted route', async () => {
    const doc = (await ctx.request.get('/api/v1/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const router = (ctx.app as unknown as { router: { stack: Layer[] } }).router;
    const mounted = mountedRoutes(router.stack);
    expect(mounted.length).toBeGreaterThan(2);
    const missing = mounted.filter((r) => {
      const [method, path] = r.split(' ') as [string, string];
      return !doc.paths[toOpenApiPath(path)]?.[method];
    });
    expect(missing).toEqual([]);
  });

  it('marks every non-public route as needing a bearer token', async () => {
    const doc = (await ctx.request.get('/api/v1/openapi.json')).body as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(Array.isArray(op.security) || path.endsWith('openapi.json'), `${method} ${path} has no security declaration`).toBe(true);
      }
    }
  });

  it('describes every error response with the error envelope', async () => {
    type Op = { responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> };
    const doc = (await ctx.request.get('/api/v1/openapi.json')).body as { paths: Record<string, Record<string, Op>> };
    const bare: string[] = [];
    let errors = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue;
          errors++;
          if (response.content?.['application/json']?.schema?.$ref !== '#/components/schemas/Error') bare.push(`${method} ${path} ${status}`);
        }
      }
    }
    expect(errors).toBeGreaterThan(100);
    expect(bare).toEqual([]);
  });
});

describe('GET /api/docs', () => {
  it('serves the interactive documentation page', async () => {
    const res = await ctx.request.get('/api/docs/').expect(200);
    expect(res.text).toContain('swagger-ui');
  });
});
