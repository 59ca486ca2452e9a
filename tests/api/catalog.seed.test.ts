import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_SERVICES, seedServices } from '../../prisma/seed/services.js';
import { createServiceBody } from '../../src/modules/catalog/catalog.schemas.js';
import { parseQuantity, quantityAmount } from '../../src/modules/catalog/quantities.js';
import { createTestContext, type TestContext } from '../helpers/app.js';

let ctx: TestContext;
beforeAll(() => {
  ctx = createTestContext();
});
afterAll(() => ctx.close());

describe('prisma/seed/services', () => {
  it('seeds n8n, Ghost and WordPress with their real images and ports, and seeding twice changes nothing', async () => {
    await seedServices(ctx.db);
    const before = await ctx.db.serviceCatalog.findMany({ where: { slug: { in: SEED_SERVICES.map((s) => s.slug) } }, orderBy: { slug: 'asc' } });
    expect(await seedServices(ctx.db)).toBe(0);
    const after = await ctx.db.serviceCatalog.findMany({ where: { slug: { in: SEED_SERVICES.map((s) => s.slug) } }, orderBy: { slug: 'asc' } });
    expect(after).toEqual(before);
    expect(after).toHaveLength(SEED_SERVICES.length);
    const bySlug = Object.fromEntries(after.map((s) => [s.slug, s]));
    expect(bySlug.n8n).toMatchObject({ dockerImage: expect.stringMatching(/^n8nio\/n8n/), containerPort: 5678, status: 'ACTIVE', currency: 'IDR' });
    expect(bySlug.ghost).toMatchObject({ dockerImage: 'ghost:5-alpine', containerPort: 2368 });
    expect(bySlug.wordpress).toMatchObject({ dockerImage: 'wordpress:6-apache', containerPort: 80 });
  });

  it('holds only values the API itself would accept', () => {
    for (const s of SEED_SERVICES) {
      const { slug: _slug, ...body } = s;
      expect(createServiceBody.safeParse(body).success, s.name).toBe(true);
      for (const [kind, value] of [['cpu', s.cpuRequest], ['cpu', s.cpuLimit], ['memory', s.memRequest], ['memory', s.memLimit], ['storage', s.storage]] as const) {
        expect(parseQuantity(kind, value), `${s.name} ${kind} ${value}`).toMatchObject({ ok: true, quantity: value });
      }
      expect(quantityAmount('cpu', s.cpuLimit) >= quantityAmount('cpu', s.cpuRequest)).toBe(true);
      expect(quantityAmount('memory', s.memLimit) >= quantityAmount('memory', s.memRequest)).toBe(true);
    }
  });

  it('makes the seeded services readable by slug without a token', async () => {
    await seedServices(ctx.db);
    const res = await ctx.request.get('/api/v1/services/ghost');
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ slug: 'ghost', pricing: { currency: 'IDR' } });
  });
});
