import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin, createUser, unique } from '../factories/index.js';
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

/** The README's create body, verbatim apart from a unique name. */
const readmeBody = (name = unique('N8N Automation')) => ({
  name,
  description: 'Workflow automation platform',
  category: 'automation',
  version: '1.0.0',
  status: 'ACTIVE',
  pricing: { monthly: 25000 },
  resources: { cpu: '1 vCPU', memory: '1GB RAM', storage: '10GB SSD' },
});

/** The flat body of the dashboard's era. */
const flatBody = (name = unique('Ghost Blog')) => ({
  name,
  displayName: 'Ghost',
  description: 'Publishing platform',
  category: 'CMS',
  version: '5',
  isActive: true,
  monthlyPrice: 20000,
  cpuRequest: '250m',
  cpuLimit: '1',
  memRequest: '256Mi',
  memLimit: '512Mi',
  dockerImage: 'ghost:5-alpine',
  containerPort: 2368,
  environmentVars: { NODE_ENV: 'production' },
});

const post = (body: unknown, auth = admin) => ctx.request.post('/api/v1/services').set('Authorization', auth).send(body as object);
const fieldsOf = (res: { body: { errors?: { field: string }[] } }) => (res.body.errors ?? []).map((e) => e.field);

describe('POST /api/v1/services', () => {
  it('accepts the README body verbatim and parses its human resource sizes', async () => {
    const body = readmeBody();
    const res = await post(body);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ success: true, statusCode: 201 });
    expect(res.body.data).toMatchObject({
      name: body.name,
      displayName: body.name,
      category: 'automation',
      status: 'ACTIVE',
      isActive: true,
      pricing: { monthly: 25000, currency: 'IDR' },
      monthlyPrice: 25000,
      resources: { cpu: '1', memory: '1Gi', storage: '10Gi' },
      cpuRequest: '1',
      cpuLimit: '1',
      memRequest: '1Gi',
      memLimit: '1Gi',
      dockerImage: null,
      deployable: false,
      environmentVars: {},
      _count: { subscriptions: 0 },
    });
    const row = await ctx.db.serviceCatalog.findUniqueOrThrow({ where: { id: res.body.data.id } });
    expect(row).toMatchObject({ slug: res.body.data.slug, monthlyPrice: 25000, currency: 'IDR', cpuRequest: '1', memLimit: '1Gi', storage: '10Gi', status: 'ACTIVE' });
    expect(row.slug).toBe(body.name.toLowerCase().replace(/[^a-z0-9]+/g, '-'));
  });

  it('accepts the flat dashboard body', async () => {
    const body = flatBody();
    const res = await post(body);
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ displayName: 'Ghost', category: 'cms', cpuRequest: '250m', cpuLimit: '1', memRequest: '256Mi', memLimit: '512Mi', containerPort: 2368, dockerImage: 'ghost:5-alpine', deployable: true, isActive: true, environmentVars: { NODE_ENV: 'production' }, resources: { cpu: '1', memory: '512Mi', storage: null } });
    const row = await ctx.db.serviceCatalog.findUniqueOrThrow({ where: { id: res.body.data.id } });
    expect(row).toMatchObject({ name: body.name, monthlyPrice: 20000, containerPort: 2368, environmentVars: { NODE_ENV: 'production' } });
  });

  it('lets explicit requests and limits win over resources.cpu and resources.memory', async () => {
    const res = await post({ ...readmeBody(), resources: { cpu: '2 vCPU', memory: '2GB' }, cpuRequest: '500m', memRequest: '1Gi' });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ cpuRequest: '500m', cpuLimit: '2', memRequest: '1Gi', memLimit: '2Gi' });
  });

  it('uses a lone request or limit for both sides', async () => {
    const { pricing: _p, resources: _r, ...rest } = readmeBody();
    const res = await post({ ...rest, monthlyPrice: 0, cpuLimit: '0.5', memRequest: '300Mi' });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ cpuRequest: '500m', cpuLimit: '500m', memRequest: '300Mi', memLimit: '300Mi', monthlyPrice: 0 });
  });

  it('stores isActive: false as INACTIVE', async () => {
    const res = await post({ ...flatBody(), isActive: false });
    expect(res.body.data).toMatchObject({ status: 'INACTIVE', isActive: false });
  });

  it('adds a numeric suffix when the slug of a different name is taken', async () => {
    const base = unique('Slug Clash');
    const first = await post(readmeBody(base));
    const second = await post(readmeBody(`${base}!`));
    const third = await post(readmeBody(`${base}?`));
    expect(first.body.data.slug).toBe(base.toLowerCase().replace(/ /g, '-'));
    expect(second.body.data.slug).toBe(`${first.body.data.slug}-2`);
    expect(third.body.data.slug).toBe(`${first.body.data.slug}-3`);
  });

  it('gives concurrent creates of clashing names distinct slugs', async () => {
    const base = unique('Race');
    const results = await Promise.all(['!', '?', '#', '&'].map((p) => post(readmeBody(`${base}${p}`))));
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    const slugs = results.map((r) => r.body.data.slug as string);
    expect(new Set(slugs).size).toBe(4);
    const rows = await ctx.db.serviceCatalog.findMany({ where: { slug: { startsWith: base.toLowerCase() } } });
    expect(rows.map((r) => r.slug).sort()).toEqual([...slugs].sort());
  });

  it('never gives a service a slug that a fixed route uses', async () => {
    // Punctuation keeps the name unique while it still slugifies to "public".
    const res = await post(readmeBody(`Public${'!'.repeat(1 + Math.floor(Math.random() * 90))}`));
    expect(res.status).toBe(201);
    expect(res.body.data.slug).toMatch(/^public-\d+$/);
    const byName = await ctx.request.get('/api/v1/services/public').set('Authorization', admin);
    expect(byName.body.data).toHaveProperty('pagination');
  });

  it('refuses a name that exists, in any letter case, with 409', async () => {
    const name = unique('Dup');
    await post(readmeBody(name));
    const res = await post(readmeBody(name.toUpperCase()));
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('CONFLICT');
    expect(await ctx.db.serviceCatalog.count({ where: { name: { equals: name, mode: 'insensitive' } } })).toBe(1);
  });

  it.each([
    ['resources.cpu', { resources: { cpu: 'lots', memory: '1GB' } }],
    ['resources.memory', { resources: { cpu: '1', memory: '512m' } }],
    ['resources.storage', { resources: { cpu: '1', memory: '1GB', storage: 'big' } }],
    ['cpuRequest', { cpuRequest: '1 banana' }],
    ['memLimit', { memLimit: '12' }],
    ['pricing.monthly', { pricing: { monthly: -1 } }],
    ['pricing.monthly', { pricing: { monthly: 10.5 } }],
    ['monthlyPrice', { monthlyPrice: '25000' }],
    ['containerPort', { containerPort: 70000 }],
    ['containerPort', { containerPort: 0 }],
    ['dockerImage', { dockerImage: 'Not An Image!' }],
    ['dockerImage', { dockerImage: 'Ghost:5' }],
    ['dockerImage', { dockerImage: 'ghost:5:alpine' }],
    ['environmentVars.1BAD', { environmentVars: { '1BAD': 'x' } }],
    ['environmentVars.PORT', { environmentVars: { PORT: 3000 } }],
    ['status', { status: 'RUNNING' }],
    ['category', { category: '' }],
    ['version', { version: 'has spaces' }],
    ['isActive', { isActive: true, status: 'INACTIVE' }],
    ['isActive', { isActive: false, status: 'ACTIVE' }],
    ['monthlyPrice', { monthlyPrice: 1, pricing: { monthly: 2 } }],
    ['pricing', { pricing: { monthly: 1, yearly: 12 } }],
    ['slug', { slug: 'chosen' }],
    ['role', { role: 'ADMINISTRATOR' }],
  ])('refuses a bad %s with 400 naming it', async (field, patch) => {
    const name = unique('Invalid');
    const res = await post({ ...readmeBody(name), ...patch });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_ERROR');
    expect(fieldsOf(res)).toContain(field);
    expect(await ctx.db.serviceCatalog.count({ where: { name } })).toBe(0);
  });

  it('refuses a limit below its request with 400 naming the limit', async () => {
    const res = await post({ ...flatBody(), cpuRequest: '2', cpuLimit: '500m', memRequest: '1Gi', memLimit: '512Mi' });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['cpuLimit', 'memLimit']);
  });

  it('refuses a request above resources.cpu, naming resources.cpu', async () => {
    const res = await post({ ...readmeBody(), cpuRequest: '4' });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['resources.cpu']);
  });

  it('names every missing required value at once', async () => {
    const res = await post({ description: 'nothing else' });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(expect.arrayContaining(['name', 'category', 'version']));
    const noSizes = await post({ name: unique('NoSizes'), category: 'x', version: '1' });
    expect(fieldsOf(noSizes)).toEqual(['pricing.monthly', 'resources.cpu', 'resources.memory']);
  });

  it('refuses a currency other than the configured one', async () => {
    const res = await post({ ...readmeBody(), pricing: { monthly: 5, currency: 'usd' } });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['pricing.currency']);
    expect((await post({ ...readmeBody(), pricing: { monthly: 5, currency: 'idr' } })).status).toBe(201);
  });

  it('refuses too many environment variables', async () => {
    const env = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`VAR_${i}`, 'x']));
    const res = await post({ ...readmeBody(), environmentVars: env });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['environmentVars']);
  });

  it('answers a USER token with 403 and creates nothing', async () => {
    const body = readmeBody();
    const res = await post(body, user);
    expect(res.status).toBe(403);
    expect(res.body.message).toEqual(expect.any(String));
    expect(await ctx.db.serviceCatalog.count({ where: { name: body.name } })).toBe(0);
  });

  it('answers no token with 401', async () => {
    expect((await ctx.request.post('/api/v1/services').send(readmeBody())).status).toBe(401);
  });
});
