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

const fieldsOf = (res: { body: { errors?: { field: string }[] } }) => (res.body.errors ?? []).map((e) => e.field);

describe('PUT /api/v1/services/:id', () => {
  const put = (id: string, body: unknown, auth = admin) => ctx.request.put(`/api/v1/services/${id}`).set('Authorization', auth).send(body as object);

  it('updates only the fields sent and keeps the slug', async () => {
    const service = await createService(ctx.db);
    const name = unique('Renamed');
    const res = await put(service.id, { name, pricing: { monthly: 99000 }, resources: { cpu: '2 vCPU' }, dockerImage: null });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ name, slug: service.slug, displayName: service.displayName, monthlyPrice: 99000, cpuRequest: '2', cpuLimit: '2', memRequest: '128Mi', memLimit: '256Mi', dockerImage: null, deployable: false });
    const row = await ctx.db.serviceCatalog.findUniqueOrThrow({ where: { id: service.id } });
    expect(row).toMatchObject({ name, slug: service.slug, monthlyPrice: 99000, cpuRequest: '2', memLimit: '256Mi', dockerImage: null, description: service.description });
    expect(row.updatedAt.getTime()).toBeGreaterThan(service.updatedAt.getTime());
  });

  it('checks a new limit against the stored request', async () => {
    const service = await createService(ctx.db, { cpuRequest: '500m', cpuLimit: '1' });
    const res = await put(service.id, { cpuLimit: '250m' });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['cpuLimit']);
    expect((await ctx.db.serviceCatalog.findUniqueOrThrow({ where: { id: service.id } })).cpuLimit).toBe('1');
  });

  it('refuses to change the slug', async () => {
    const service = await createService(ctx.db);
    const res = await put(service.id, { slug: 'new-slug' });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['slug']);
    expect((await ctx.db.serviceCatalog.findUniqueOrThrow({ where: { id: service.id } })).slug).toBe(service.slug);
  });

  it('sets status through isActive and refuses a contradiction', async () => {
    const service = await createService(ctx.db);
    expect((await put(service.id, { isActive: false })).body.data).toMatchObject({ status: 'INACTIVE', isActive: false });
    expect((await put(service.id, { status: 'DEPRECATED' })).body.data.status).toBe('DEPRECATED');
    expect((await put(service.id, { isActive: false })).body.data.status).toBe('DEPRECATED');
    const bad = await put(service.id, { isActive: true, status: 'DEPRECATED' });
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad)).toEqual(['isActive']);
  });

  it('clears nullable fields with null and trims text', async () => {
    const service = await createService(ctx.db);
    const res = await put(service.id, { description: '  ', containerPort: null, storage: null, displayName: '  Shiny  ' });
    expect(res.status).toBe(200);
    const row = await ctx.db.serviceCatalog.findUniqueOrThrow({ where: { id: service.id } });
    expect(row).toMatchObject({ description: null, containerPort: null, storage: null, displayName: 'Shiny' });
  });

  it('refuses an empty body', async () => {
    const service = await createService(ctx.db);
    expect((await put(service.id, {})).status).toBe(400);
  });

  it('refuses a name another service has with 409', async () => {
    const a = await createService(ctx.db);
    const b = await createService(ctx.db);
    const res = await put(b.id, { name: a.name });
    expect(res.status).toBe(409);
    expect((await ctx.db.serviceCatalog.findUniqueOrThrow({ where: { id: b.id } })).name).toBe(b.name);
  });

  it('answers an unknown id with 404 and a USER token with 403', async () => {
    expect((await put(unique('nope'), { version: '2' })).status).toBe(404);
    const service = await createService(ctx.db);
    expect((await put(service.id, { version: '2' }, user)).status).toBe(403);
    expect((await ctx.db.serviceCatalog.findUniqueOrThrow({ where: { id: service.id } })).version).toBe('1.0.0');
  });
});

describe('PATCH /api/v1/services/:id/toggle-status', () => {
  const toggle = (id: string, auth = admin) => ctx.request.patch(`/api/v1/services/${id}/toggle-status`).set('Authorization', auth);

  it('switches ACTIVE and INACTIVE back and forth', async () => {
    const service = await createService(ctx.db);
    const off = await toggle(service.id);
    expect(off.status).toBe(200);
    expect(off.body.data).toMatchObject({ status: 'INACTIVE', isActive: false });
    expect((await ctx.db.serviceCatalog.findUniqueOrThrow({ where: { id: service.id } })).status).toBe('INACTIVE');
    expect((await toggle(service.id)).body.data).toMatchObject({ status: 'ACTIVE', isActive: true });
  });

  it('reactivates a DEPRECATED service', async () => {
    const service = await createService(ctx.db, { status: 'DEPRECATED' });
    expect((await toggle(service.id)).body.data.status).toBe('ACTIVE');
  });

  it('applies concurrent toggles one after the other', async () => {
    const service = await createService(ctx.db);
    const results = await Promise.all([toggle(service.id), toggle(service.id)]);
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(results.map((r) => r.body.data.status).sort()).toEqual(['ACTIVE', 'INACTIVE']);
    expect((await ctx.db.serviceCatalog.findUniqueOrThrow({ where: { id: service.id } })).status).toBe('ACTIVE');
  });

  it('answers 404 for an unknown id and 403 for a USER token', async () => {
    expect((await toggle(unique('nope'))).status).toBe(404);
    const service = await createService(ctx.db);
    expect((await toggle(service.id, user)).status).toBe(403);
    expect((await ctx.db.serviceCatalog.findUniqueOrThrow({ where: { id: service.id } })).status).toBe('ACTIVE');
  });
});

describe('DELETE /api/v1/services/:id', () => {
  const del = (id: string, auth = admin) => ctx.request.delete(`/api/v1/services/${id}`).set('Authorization', auth);

  it('deletes a service nobody subscribes to', async () => {
    const service = await createService(ctx.db);
    const res = await del(service.id);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ id: service.id });
    expect(await ctx.db.serviceCatalog.findUnique({ where: { id: service.id } })).toBeNull();
    expect((await del(service.id)).status).toBe(404);
  });

  it('refuses with 409 while a subscription references the service, and keeps it', async () => {
    const service = await createService(ctx.db);
    const subscriber = await createUser(ctx.db, ctx.config);
    await ctx.db.subscription.create({ data: { userId: subscriber.user.id, serviceId: service.id, status: 'CANCELLED' } });
    const res = await del(service.id);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('1 subscription') });
    expect(await ctx.db.serviceCatalog.findUnique({ where: { id: service.id } })).not.toBeNull();
  });

  it('is for administrators only', async () => {
    const service = await createService(ctx.db);
    expect((await del(service.id, user)).status).toBe(403);
    expect(await ctx.db.serviceCatalog.findUnique({ where: { id: service.id } })).not.toBeNull();
  });
});
