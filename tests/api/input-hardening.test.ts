import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin, createNode, createService, createUser, unique } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';

// Input the hostile-client run of issue 15 found accepted, misread or answered in the wrong order.
const ctx = createTestContext();
const { request, db, config } = ctx;
afterAll(() => ctx.close());

let admin: string;
beforeAll(async () => {
  admin = (await createAdmin(db, config)).auth;
});

const envelope = (status: number, code: string) => ({ success: false, code, statusCode: status, message: expect.any(String), timestamp: expect.any(String) });
const fieldsOf = (body: { errors?: { field: string }[] }) => (body.errors ?? []).map((e) => e.field);

const serviceBody = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  category: 'testing',
  version: '1.0.0',
  pricing: { monthly: 1000 },
  resources: { cpu: '100m', memory: '128Mi' },
  ...extra,
});
const postService = (body: object) => request.post('/api/v1/services').set('Authorization', admin).send(body);

describe('GET /api/v1/services/admin?search=', () => {
  it('matches % and _ literally, as the other searches do', async () => {
    const base = unique('Pct');
    const [percent, underscore] = await Promise.all([createService(db, { name: `${base} 50% off` }), createService(db, { name: `${base} a_b` })]);
    await Promise.all([createService(db, { name: `${base} 50x off` }), createService(db, { name: `${base} axb` })]);
    const search = async (term: string) => {
      const res = await request.get('/api/v1/services/admin').query({ search: term, limit: 100 }).set('Authorization', admin).expect(200);
      return (res.body.data.services as { id: string }[]).map((s) => s.id);
    };
    expect(await search(`${base} 50%`)).toEqual([percent.id]);
    expect(await search(`${base} a_b`)).toEqual([underscore.id]);
  });
});

describe('POST /api/v1/services, in parallel with names of one slug base', () => {
  it('gives every create its own slug: no 409 when the names differ', async () => {
    const base = unique('Crowd');
    const suffixes = ['!', '?', '#', '&', '*', '+', '=', '~', '^', '(', ')', '[', ']', ':'];
    const results = await Promise.all(suffixes.map((s) => postService(serviceBody(`${base}${s}`))));
    expect(results.map((r) => r.status)).toEqual(suffixes.map(() => 201));
    const rows = await db.serviceCatalog.findMany({ where: { slug: { startsWith: base.toLowerCase() } } });
    expect(rows).toHaveLength(suffixes.length);
    expect(new Set(rows.map((r) => r.slug)).size).toBe(suffixes.length);
  });
});

describe('service names compared as people read them', () => {
  it.each([
    ['full-width letters', (n: string) => n.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))],
    ['letter case beyond ASCII (ß against SS)', (n: string) => `${n.toUpperCase()}SS`, (n: string) => `${n}ß`],
    ['a ligature', (n: string) => `${n}ﬁ`, (n: string) => `${n}fi`],
    ['a non-breaking space', (n: string) => `${n}\u00a0x`, (n: string) => `${n} x`],
  ])('refuses a name equal to another after NFKC and case folding (%s) with 409', async (_what, second: (n: string) => string, first: (n: string) => string = (n) => n) => {
    const name = unique('ghost').replace(/[^a-z]/g, '');
    const created = await postService(serviceBody(first(name)));
    expect(created.status).toBe(201);
    const res = await postService(serviceBody(second(name)));
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject(envelope(409, 'CONFLICT'));
    expect(fieldsOf(res.body)).toEqual(['name']);
    expect(await db.serviceCatalog.count({ where: { name: { in: [first(name), second(name)] } } })).toBe(1);
  });

  it('lets one of several parallel creates of equal-looking names win, the others 409', async () => {
    const name = unique('twin').replace(/[^a-z]/g, '');
    const variants = [name, name.toUpperCase(), `${name[0]?.toUpperCase()}${name.slice(1)}`, name.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))];
    const results = await Promise.all(variants.map((v) => postService(serviceBody(v))));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    expect(await db.serviceCatalog.count({ where: { name: { in: variants } } })).toBe(1);
  });

  it('refuses renaming a service to the name of another one, folded', async () => {
    const [a, b] = await Promise.all([createService(db), createService(db)]);
    const res = await request.put(`/api/v1/services/${b.id}`).set('Authorization', admin).send({ name: a.name.toUpperCase() });
    expect(res.status).toBe(409);
    expect(fieldsOf(res.body)).toEqual(['name']);
    expect((await db.serviceCatalog.findUniqueOrThrow({ where: { id: b.id } })).name).toBe(b.name);
  });

  it('lets a service change the letter case of its own name', async () => {
    const service = await createService(db);
    const res = await request.put(`/api/v1/services/${service.id}`).set('Authorization', admin).send({ name: service.name.toUpperCase() });
    expect(res.status).toBe(200);
    expect((await db.serviceCatalog.findUniqueOrThrow({ where: { id: service.id } })).name).toBe(service.name.toUpperCase());
  });
});

const HIDDEN = [
  ['a zero-width space', '\u200b'],
  ['a zero-width joiner between letters', 'a\u200d'],
  ['a right-to-left override', '\u202e'],
  ['a left-to-right isolate', '\u2066'],
  ['a byte order mark', '\ufeff'],
  ['a control character', '\u0007'],
  ['a C1 control character', '\u0085'],
  ['a Hangul filler', '\u3164'],
];

describe('names with characters that render as nothing or reorder the text', () => {
  it.each(HIDDEN)('refuses %s in a service name and display name with 400, creating nothing', async (_what, ch) => {
    const name = unique('Ghost');
    const res = await postService(serviceBody(`${name}${ch}x`, { displayName: `Gh${ch}ost` }));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject(envelope(400, 'VALIDATION_ERROR'));
    expect(fieldsOf(res.body).sort()).toEqual(['displayName', 'name']);
    expect(await db.serviceCatalog.count({ where: { name: { startsWith: name } } })).toBe(0);
  });

  it.each(HIDDEN)('refuses %s in a user name (registration, profile, administration) with 400, changing nothing', async (_what, ch) => {
    const email = `${unique('ghost')}@example.test`;
    const register = await request.post('/api/v1/auth/register').send({ name: `Ghost${ch}User`, email, password: 'Str0ng!Pass', confirmPassword: 'Str0ng!Pass' });
    expect(register.status).toBe(400);
    expect(fieldsOf(register.body)).toEqual(['name']);
    expect(await db.user.count({ where: { email } })).toBe(0);

    const user = await createUser(db, config, { name: 'Plain Name' });
    const profile = await request.put('/api/v1/auth/profile').set('Authorization', user.auth).send({ name: `Plain${ch} Name` });
    const byAdmin = await request.put(`/api/v1/users/${user.user.id}`).set('Authorization', admin).send({ name: `Plain ${ch}Name` });
    for (const res of [profile, byAdmin]) {
      expect(res.status).toBe(400);
      expect(fieldsOf(res.body)).toEqual(['name']);
    }
    expect((await db.user.findUniqueOrThrow({ where: { id: user.user.id } })).name).toBe('Plain Name');
  });

  it('keeps emoji sequences joined by a zero-width joiner, and letters of every script', async () => {
    const name = `${unique('Dev')} 👩‍💻 Ünïcödé Ελληνικά 日本語`;
    const res = await postService(serviceBody(name, { displayName: 'فارسی 👨‍👩‍👧' }));
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ name, displayName: 'فارسی 👨‍👩‍👧' });
  });
});

describe('worker node names', () => {
  const registration = (name: string) => ({
    name,
    hostname: `${unique('host')}.cluster.test`,
    ipAddress: '10.1.2.3',
    cpuCores: 4,
    cpuArchitecture: 'x86_64',
    totalMemory: 16384,
    totalStorage: 100000,
    architecture: 'amd64',
    operatingSystem: 'Ubuntu 24.04 LTS',
  });

  it("refuses to register a node under another node's id with 409, so lookups by name cannot reach the other node", async () => {
    const { node } = await createNode(db);
    const res = await request.post('/api/v1/workers').set('Authorization', admin).send(registration(node.id));
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject(envelope(409, 'CONFLICT'));
    expect(fieldsOf(res.body)).toEqual(['name']);
    expect(await db.workerNode.count({ where: { name: node.id } })).toBe(0);
  });

  it("refuses to rename a node to another node's id, and lets a node take its own id as its name", async () => {
    const [{ node: a }, { node: b }] = await Promise.all([createNode(db), createNode(db)]);
    const res = await request.put(`/api/v1/workers/${b.id}`).set('Authorization', admin).send({ name: a.id });
    expect(res.status).toBe(409);
    expect(fieldsOf(res.body)).toEqual(['name']);
    expect((await db.workerNode.findUniqueOrThrow({ where: { id: b.id } })).name).toBe(b.name);
    await request.put(`/api/v1/workers/${b.id}`).set('Authorization', admin).send({ name: b.id }).expect(200);
    expect((await db.workerNode.findUniqueOrThrow({ where: { id: b.id } })).name).toBe(b.id);
  });

  it.each(HIDDEN)('refuses %s in a node name with 400', async (_what, ch) => {
    const name = unique('node');
    const res = await request.post('/api/v1/workers').set('Authorization', admin).send(registration(`${name}${ch}x`));
    expect(res.status).toBe(400);
    expect(fieldsOf(res.body)).toEqual(['name']);
    expect(await db.workerNode.count({ where: { name: { startsWith: name } } })).toBe(0);
  });
});

describe('keys named __proto__', () => {
  it('refuses __proto__ as a label key with 400 like any invalid key, changing nothing', async () => {
    const { node } = await createNode(db, { labels: { zone: 'a' } });
    const res = await request
      .put(`/api/v1/workers/${node.id}`)
      .set('Authorization', admin)
      .set('Content-Type', 'application/json')
      .send('{"labels":{"__proto__":"x","zone":"b"}}');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject(envelope(400, 'VALIDATION_ERROR'));
    expect(fieldsOf(res.body)).toEqual(['labels.__proto__']);
    expect((await db.workerNode.findUniqueOrThrow({ where: { id: node.id } })).labels).toEqual({ zone: 'a' });
  });

  it('refuses __proto__ as an environment variable name with 400', async () => {
    const service = await createService(db);
    const res = await request.put(`/api/v1/services/${service.id}`).set('Authorization', admin).set('Content-Type', 'application/json').send('{"environmentVars":{"__proto__":"x"}}');
    expect(res.status).toBe(400);
    expect(fieldsOf(res.body)).toEqual(['environmentVars.__proto__']);
    expect((await db.serviceCatalog.findUniqueOrThrow({ where: { id: service.id } })).environmentVars).toEqual(service.environmentVars);
  });
});

describe('page and limit in the query string', () => {
  it.each(['0x10', '1e1', '0b1', '0o7', ' 2', '2.0', '+3', 'Infinity'])('refuses page=%s with 400: decimal digits only', async (page) => {
    const res = await request.get('/api/v1/users').query({ page }).set('Authorization', admin);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject(envelope(400, 'VALIDATION_ERROR'));
    expect(fieldsOf(res.body)).toEqual(['query.page']);
  });

  it('refuses limit=0x10 and reads decimal page and limit', async () => {
    expect((await request.get('/api/v1/workers').query({ limit: '0x10' }).set('Authorization', admin)).status).toBe(400);
    const res = await request.get('/api/v1/services/admin').query({ page: '02', limit: '5' }).set('Authorization', admin).expect(200);
    expect(res.body.data.pagination).toMatchObject({ page: 2, limit: 5 });
  });
});

describe('request body charset', () => {
  const register = (charset: string) => {
    const email = `${unique('cs')}@example.test`;
    const body = JSON.stringify({ name: 'Charset User', email, password: 'Str0ng!Pass', confirmPassword: 'Str0ng!Pass' });
    return { email, send: () => request.post('/api/v1/auth/register').set('Content-Type', `application/json; charset=${charset}`).send(body) };
  };

  it.each(['utf-7', 'UTF-16', 'utf-16le', 'latin1', 'iso-8859-1', 'utf-32'])('refuses charset=%s with 415 in the error envelope, creating nothing', async (charset) => {
    const { email, send } = register(charset);
    const res = await send();
    expect(res.status).toBe(415);
    expect(res.body).toMatchObject(envelope(415, 'UNSUPPORTED_MEDIA_TYPE'));
    expect(await db.user.count({ where: { email } })).toBe(0);
  });

  it.each(['utf-8', 'UTF-8', '"utf-8"'])('accepts charset=%s', async (charset) => {
    const { email, send } = register(charset);
    expect((await send()).status).toBe(201);
    expect(await db.user.count({ where: { email } })).toBe(1);
  });
});

describe("agents' reports authenticate before they validate", () => {
  const bogus = `Bearer mpn_${randomBytes(32).toString('base64url')}`;

  it.each(['resources', 'heartbeat'])('answers a bogus agent token with 401 and no validation details, whatever the %s body', async (route) => {
    const { node } = await createNode(db);
    const before = await db.workerNode.findUniqueOrThrow({ where: { id: node.id } });
    const res = await request.post(`/api/v1/workers/${node.id}/${route}`).set('Authorization', bogus).send({ allocatedCPU: 'lots', nonsense: true });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject(envelope(401, 'INVALID_TOKEN'));
    expect(res.body.errors).toBeUndefined();
    expect(await db.workerNode.findUniqueOrThrow({ where: { id: node.id } })).toEqual(before);
  });

  it("answers another node's token with 403 before validating, and the node's own token with 400 and the details", async () => {
    const [{ node }, other] = await Promise.all([createNode(db), createNode(db)]);
    const foreign = await request.post(`/api/v1/workers/${node.id}/resources`).set('Authorization', other.auth).send({ allocatedCPU: -1 });
    expect(foreign.status).toBe(403);
    expect(foreign.body.errors).toBeUndefined();
    const own = await createNode(db);
    const invalid = await request.post(`/api/v1/workers/${own.node.name}/resources`).set('Authorization', own.auth).send({ allocatedCPU: -1 });
    expect(invalid.status).toBe(400);
    expect(fieldsOf(invalid.body)).toEqual(['allocatedCPU']);
    expect((await db.workerNode.findUniqueOrThrow({ where: { id: own.node.id } })).allocatedCPU).toBe(0);
  });
});
