import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin, createService, createUser, unique } from '../factories/index.js';
import { createTestContext, type TestContext } from '../helpers/app.js';

let ctx: TestContext;
let admin: string;
let user: string;

beforeAll(async () => {
  ctx = createTestContext();
  admin = (await createAdmin(ctx.db, ctx.config)).auth;
  user = (await createUser(ctx.db, ctx.config)).auth;
});
afterAll(() => ctx.close());

const PUBLIC_KEYS = ['id', 'name', 'slug', 'displayName', 'description', 'category', 'version', 'pricing', 'monthlyPrice', 'resources'].sort();
const DASHBOARD_ADMIN_KEYS = ['id', 'name', 'displayName', 'description', 'isActive', 'version', 'monthlyPrice', 'cpuRequest', 'cpuLimit', 'memRequest', 'memLimit', 'containerPort', 'createdAt', '_count'];

/** A category of its own with one service per status, so lists can be asserted exactly. */
async function catalogOfThree() {
  const category = unique('cat');
  const active = await createService(ctx.db, { category, monthlyPrice: 20000 });
  const inactive = await createService(ctx.db, { category, status: 'INACTIVE', monthlyPrice: 10000 });
  const deprecated = await createService(ctx.db, { category, status: 'DEPRECATED', monthlyPrice: 30000 });
  return { category, active, inactive, deprecated };
}

describe('GET /api/v1/services/public', () => {
  it('treats % and _ in the search as literal characters', async () => {
    const res = await ctx.request.get('/api/v1/services/public').query({ search: '%_%' }).set('Authorization', user).expect(200);
    expect(res.body.data).toMatchObject({ services: [], pagination: { total: 0 } });
  });

  it('lists only active services in the public view, paginated', async () => {
    const { category, active } = await catalogOfThree();
    const res = await ctx.request.get('/api/v1/services/public').query({ category }).set('Authorization', user);
    expect(res.status).toBe(200);
    expect(res.body.data.services.map((s: { id: string }) => s.id)).toEqual([active.id]);
    expect(Object.keys(res.body.data.services[0]).sort()).toEqual(PUBLIC_KEYS);
    expect(res.body.data.services[0]).toMatchObject({ pricing: { monthly: 20000, currency: 'IDR' }, monthlyPrice: 20000, resources: { cpu: '500m', memory: '256Mi', storage: '1Gi' } });
    expect(res.body.data.pagination).toMatchObject({ page: 1, limit: 10, total: 1, totalPages: 1, totalCount: 1, currentPage: 1, hasNext: false, hasPrev: false });
  });

  it('never shows the image, environment or internal fields', async () => {
    const { category } = await catalogOfThree();
    const res = await ctx.request.get('/api/v1/services/public').query({ category }).set('Authorization', user);
    const service = res.body.data.services[0];
    for (const key of ['dockerImage', 'environmentVars', 'containerPort', 'cpuRequest', 'status', 'createdAt', '_count']) expect(service).not.toHaveProperty(key);
  });

  it('searches name, display name and description case-insensitively and pages the result', async () => {
    const term = unique('needle');
    const a = await createService(ctx.db, { name: `${term}-a`, displayName: 'Alpha' });
    const b = await createService(ctx.db, { displayName: `Beta ${term.toUpperCase()}` });
    const c = await createService(ctx.db, { description: `has ${term} inside` });
    await createService(ctx.db, { name: `${term}-inactive`, status: 'INACTIVE' });
    const page1 = await ctx.request.get('/api/v1/services/public').query({ search: term, limit: '2', sortBy: 'createdAt', sortOrder: 'asc' }).set('Authorization', user);
    const page2 = await ctx.request.get('/api/v1/services/public').query({ search: term, limit: '2', page: '2', sortBy: 'createdAt', sortOrder: 'asc' }).set('Authorization', user);
    expect(page1.body.data.services.map((s: { id: string }) => s.id)).toEqual([a.id, b.id]);
    expect(page2.body.data.services.map((s: { id: string }) => s.id)).toEqual([c.id]);
    expect(page1.body.data.pagination).toMatchObject({ total: 3, totalPages: 2, hasNext: true });
  });

  it('requires a token', async () => {
    const res = await ctx.request.get('/api/v1/services/public');
    expect(res.status).toBe(401);
  });

  it('refuses an unknown query parameter and a sort field outside the list with 400', async () => {
    const res = await ctx.request.get('/api/v1/services/public').query({ sortBy: 'dockerImage', colour: 'red' }).set('Authorization', user);
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(['query.sortBy', 'query.colour']));
  });
});

describe('GET /api/v1/services', () => {
  it('gives anonymous callers a bare array of public views of active services', async () => {
    const { category, active } = await catalogOfThree();
    const res = await ctx.request.get('/api/v1/services').query({ category });
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body.data)).toBe(true);
    expect(res.body.data).toHaveLength(1);
    expect(res.body.data[0]).toMatchObject({ id: active.id, name: active.name, displayName: active.displayName, description: active.description, version: '1.0.0', monthlyPrice: 20000 });
    expect(Object.keys(res.body.data[0]).sort()).toEqual(PUBLIC_KEYS);
  });

  it('gives a USER token the same bare array', async () => {
    const { category, active } = await catalogOfThree();
    const res = await ctx.request.get('/api/v1/services').query({ category }).set('Authorization', user);
    expect(res.body.data.map((s: { id: string }) => s.id)).toEqual([active.id]);
  });

  it('gives an administrator the paginated administrator list with status filter', async () => {
    const { category, inactive } = await catalogOfThree();
    const all = await ctx.request.get('/api/v1/services').query({ category, sortBy: 'monthlyPrice', sortOrder: 'asc' }).set('Authorization', admin);
    expect(all.status).toBe(200);
    expect(all.body.data.services.map((s: { monthlyPrice: number }) => s.monthlyPrice)).toEqual([10000, 20000, 30000]);
    expect(all.body.data.pagination.totalCount).toBe(3);
    const filtered = await ctx.request.get('/api/v1/services').query({ category, status: 'INACTIVE' }).set('Authorization', admin);
    expect(filtered.body.data.services.map((s: { id: string }) => s.id)).toEqual([inactive.id]);
  });

  it('refuses an invalid token rather than treating the caller as anonymous', async () => {
    const res = await ctx.request.get('/api/v1/services').set('Authorization', 'Bearer not-a-token');
    expect(res.status).toBe(401);
  });
});

describe('GET /api/v1/services/admin', () => {
  it('carries every field the dashboard reads, with the subscription count', async () => {
    const { category, inactive } = await catalogOfThree();
    const subscriber = await createUser(ctx.db, ctx.config);
    await ctx.db.subscription.create({ data: { userId: subscriber.user.id, serviceId: inactive.id } });
    const res = await ctx.request.get('/api/v1/services/admin').query({ category, status: 'INACTIVE' }).set('Authorization', admin);
    expect(res.status).toBe(200);
    const [service] = res.body.data.services;
    for (const key of DASHBOARD_ADMIN_KEYS) expect(service).toHaveProperty(key);
    expect(service).toMatchObject({
      id: inactive.id,
      isActive: false,
      status: 'INACTIVE',
      cpuRequest: '100m',
      cpuLimit: '500m',
      memRequest: '128Mi',
      memLimit: '256Mi',
      containerPort: 80,
      dockerImage: 'nginx:1.27-alpine',
      deployable: true,
      environmentVars: { TZ: 'Asia/Jakarta' },
      createdAt: inactive.createdAt.toISOString(),
      _count: { subscriptions: 1 },
    });
    expect(res.body.data.pagination.totalCount).toBe(1);
  });

  it('answers a USER token with 403 and a message', async () => {
    const res = await ctx.request.get('/api/v1/services/admin').set('Authorization', user);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ success: false, code: 'FORBIDDEN', message: expect.any(String), statusCode: 403 });
  });

  it('answers no token with 401', async () => {
    expect((await ctx.request.get('/api/v1/services/admin')).status).toBe(401);
  });

  it('caps limit at 100', async () => {
    const res = await ctx.request.get('/api/v1/services/admin').query({ limit: '500', search: unique('none') }).set('Authorization', admin);
    expect(res.body.data.pagination.limit).toBe(100);
  });
});

describe('GET /api/v1/services/admin/stats', () => {
  it('counts by status and category and reports price figures', async () => {
    const { category } = await catalogOfThree();
    const res = await ctx.request.get('/api/v1/services/admin/stats').set('Authorization', admin);
    expect(res.status).toBe(200);
    const { data } = res.body;
    expect(data.byCategory).toContainEqual({ category, total: 3, active: 1 });
    expect(data.total).toBe(data.byStatus.ACTIVE + data.byStatus.INACTIVE + data.byStatus.DEPRECATED);
    expect(data.active).toBe(data.byStatus.ACTIVE);
    expect(data.total).toBeGreaterThanOrEqual(3);
    expect(data.pricing.currency).toBe('IDR');
    expect(data.pricing.min).toBeLessThanOrEqual(10000);
    expect(data.pricing.max).toBeGreaterThanOrEqual(30000);
    expect(Number.isInteger(data.pricing.average)).toBe(true);
    expect(data.deployable).toBeLessThanOrEqual(data.total);
  });

  it('is for administrators only', async () => {
    expect((await ctx.request.get('/api/v1/services/admin/stats').set('Authorization', user)).status).toBe(403);
  });
});

describe('GET /api/v1/services/admin/:id', () => {
  it('returns the administrator view of a service in any status, by id or slug', async () => {
    const { deprecated } = await catalogOfThree();
    const byId = await ctx.request.get(`/api/v1/services/admin/${deprecated.id}`).set('Authorization', admin);
    expect(byId.status).toBe(200);
    expect(byId.body.data).toMatchObject({ id: deprecated.id, status: 'DEPRECATED', isActive: false, dockerImage: 'nginx:1.27-alpine', _count: { subscriptions: 0 } });
    const bySlug = await ctx.request.get(`/api/v1/services/admin/${deprecated.slug}`).set('Authorization', admin);
    expect(bySlug.body.data.id).toBe(deprecated.id);
  });

  it('answers an unknown id with 404', async () => {
    const res = await ctx.request.get(`/api/v1/services/admin/${unique('nope')}`).set('Authorization', admin);
    expect(res.status).toBe(404);
  });

  it('is for administrators only', async () => {
    const service = await createService(ctx.db);
    expect((await ctx.request.get(`/api/v1/services/admin/${service.id}`).set('Authorization', user)).status).toBe(403);
  });
});

describe('GET /api/v1/services/categories', () => {
  it('lists categories of active services with counts, without a token', async () => {
    const { category } = await catalogOfThree();
    await createService(ctx.db, { category });
    const empty = unique('cat');
    await createService(ctx.db, { category: empty, status: 'INACTIVE' });
    const res = await ctx.request.get('/api/v1/services/categories');
    expect(res.status).toBe(200);
    expect(res.body.data.categories).toContainEqual({ category, count: 2 });
    expect(res.body.data.categories.map((c: { category: string }) => c.category)).not.toContain(empty);
  });
});

describe('GET /api/v1/services/:idOrSlug', () => {
  it('returns the public view of an active service by id or by slug, without a token', async () => {
    const service = await createService(ctx.db);
    const byId = await ctx.request.get(`/api/v1/services/${service.id}`);
    const bySlug = await ctx.request.get(`/api/v1/services/${service.slug}`);
    expect(byId.status).toBe(200);
    expect(Object.keys(byId.body.data).sort()).toEqual(PUBLIC_KEYS);
    expect(bySlug.body.data).toEqual(byId.body.data);
  });

  it('hides inactive and deprecated services from everyone but administrators', async () => {
    const { inactive, deprecated } = await catalogOfThree();
    for (const s of [inactive, deprecated]) {
      expect((await ctx.request.get(`/api/v1/services/${s.id}`)).status).toBe(404);
      expect((await ctx.request.get(`/api/v1/services/${s.slug}`).set('Authorization', user)).status).toBe(404);
      const asAdmin = await ctx.request.get(`/api/v1/services/${s.slug}`).set('Authorization', admin);
      expect(asAdmin.status).toBe(200);
      expect(asAdmin.body.data).toMatchObject({ id: s.id, dockerImage: 'nginx:1.27-alpine', isActive: false });
    }
  });

  it('answers an unknown slug with 404', async () => {
    const res = await ctx.request.get(`/api/v1/services/${unique('missing')}`);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('NOT_FOUND');
  });
});

describe('OpenAPI document', () => {
  it('describes every catalog route with its request and response schemas', () => {
    const paths = (ctx.app.locals.openapi as unknown as { paths: Record<string, Record<string, { requestBody?: unknown; parameters?: unknown[]; responses: Record<string, { content?: unknown }> }>> }).paths;
    const expected: [string, string, 'body' | 'params' | 'query' | 'none'][] = [
      ['/api/v1/services/public', 'get', 'query'],
      ['/api/v1/services/categories', 'get', 'none'],
      ['/api/v1/services/admin', 'get', 'query'],
      ['/api/v1/services/admin/stats', 'get', 'none'],
      ['/api/v1/services/admin/{id}', 'get', 'params'],
      ['/api/v1/services', 'get', 'query'],
      ['/api/v1/services', 'post', 'body'],
      ['/api/v1/services/{idOrSlug}', 'get', 'params'],
      ['/api/v1/services/{id}', 'put', 'body'],
      ['/api/v1/services/{id}/toggle-status', 'patch', 'params'],
      ['/api/v1/services/{id}', 'delete', 'params'],
    ];
    for (const [path, method, input] of expected) {
      const op = paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeDefined();
      const success = Object.entries(op?.responses ?? {}).find(([status]) => status.startsWith('2'));
      expect(success?.[1].content, `${method} ${path} response schema`).toBeDefined();
      if (input === 'body') expect(op?.requestBody).toBeDefined();
      if (input === 'params' || input === 'query') expect(op?.parameters?.length).toBeGreaterThan(0);
    }
  });
});
