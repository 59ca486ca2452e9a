import bcrypt from 'bcrypt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin, createUser, unique } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';
import { subscribe } from './users-fixtures.js';

const ctx = createTestContext();
const { request, db, config } = ctx;
afterAll(() => ctx.close());

let admin: Awaited<ReturnType<typeof createAdmin>>;
beforeAll(async () => {
  admin = await createAdmin(db, config);
});

const PASSWORD = 'SecurePass123!';
const noSecrets = (body: unknown) => {
  const text = JSON.stringify(body);
  expect(text).not.toMatch(/"password"|tokenHash|\$2[aby]\$/);
};

describe('/api/v1/users access', () => {
  it('answers 401 without a token and 403 with a message for a USER token', async () => {
    await request.get('/api/v1/users').expect(401);
    const { auth } = await createUser(db, config);
    const res = await request.get('/api/v1/users').set('Authorization', auth).expect(403);
    expect(res.body).toMatchObject({ success: false, code: 'FORBIDDEN', statusCode: 403, message: expect.any(String) });
    await request.post('/api/v1/users/bulk').set('Authorization', auth).send({ action: 'activate', userIds: ['x'] }).expect(403);
  });
});

describe('GET /api/v1/users', () => {
  it('treats % and _ in the search as literal characters', async () => {
    const tag = unique('pct');
    const { user } = await createUser(db, config, { name: `Percent ${tag} 100%_off` });
    const literal = await request.get('/api/v1/users').query({ search: `${tag} 100%_` }).set('Authorization', admin.auth).expect(200);
    expect(literal.body.data.users.map((u: { id: string }) => u.id)).toEqual([user.id]);
    const wildcard = await request.get('/api/v1/users').query({ search: '%_%' }).set('Authorization', admin.auth).expect(200);
    expect(wildcard.body.data.pagination.total).toBe(0);
  });

  it('returns what the dashboard reads, with subscription counts and pagination', async () => {
    const tag = unique('list');
    const { user } = await createUser(db, config, { name: `Listed ${tag}` });
    await subscribe(db, user.id);
    const res = await request.get('/api/v1/users').query({ search: tag }).set('Authorization', admin.auth).expect(200);
    expect(res.body.data.users).toEqual([
      expect.objectContaining({ id: user.id, name: `Listed ${tag}`, email: user.email, role: 'USER', isActive: true, createdAt: user.createdAt.toISOString(), _count: { subscriptions: 1 } }),
    ]);
    expect(res.body.data.pagination).toMatchObject({ page: 1, limit: 10, total: 1, totalCount: 1, currentPage: 1, totalPages: 1, hasNext: false, hasPrev: false });
    noSecrets(res.body);
  });

  it('searches name and email case-insensitively and filters by role and isActive', async () => {
    const tag = unique('flt');
    const a = await createUser(db, config, { name: `Alpha ${tag}` });
    const b = await createUser(db, config, { email: `${tag}-beta@example.test`, isActive: false });
    const c = await createAdmin(db, config, { email: `${tag}-gamma@example.test` });
    const ids = async (query: Record<string, string>) =>
      (await request.get('/api/v1/users').query({ search: tag.toUpperCase(), sortBy: 'email', sortOrder: 'asc', ...query }).set('Authorization', admin.auth).expect(200)).body.data.users.map((u: { id: string }) => u.id).sort();

    expect(await ids({})).toEqual([a.user.id, b.user.id, c.user.id].sort());
    expect(await ids({ role: 'ADMINISTRATOR' })).toEqual([c.user.id]);
    expect(await ids({ isActive: 'false' })).toEqual([b.user.id]);
    expect(await ids({ isActive: 'true', role: 'USER' })).toEqual([a.user.id]);
  });

  it('answers concurrent searches for different terms each with its own matches and total', async () => {
    const tags = [unique('cc'), unique('cc'), unique('cc')];
    for (const [i, tag] of tags.entries()) for (let k = 0; k <= i; k++) await createUser(db, config, { name: `Concurrent ${k} ${tag}` });
    const queries: Record<string, string | number>[] = [...tags.map((search) => ({ search })), { search: unique('none') }, { search: tags[2] as string, limit: 2, page: 2 }];
    const results = await Promise.all(queries.map((q) => request.get('/api/v1/users').query(q).set('Authorization', admin.auth).expect(200)));
    expect(results.map((r) => r.body.data.pagination.total)).toEqual([1, 2, 3, 0, 3]);
    const names = results.map((r) => r.body.data.users.map((u: { name: string }) => u.name));
    tags.forEach((tag, i) => {
      expect(names[i]).toHaveLength(i + 1);
      for (const name of names[i] ?? []) expect(name.endsWith(tag)).toBe(true);
    });
    expect(names[3]).toEqual([]);
    expect(names[4]).toHaveLength(1);
    expect(names[4]?.[0]?.endsWith(tags[2] as string)).toBe(true);
  });

  it('sorts by a whitelisted field and pages through the results', async () => {
    const tag = unique('sort');
    for (const n of ['Charlie', 'Alice', 'Bob']) await createUser(db, config, { name: `${n} ${tag}` });
    const page = (p: number) => request.get('/api/v1/users').query({ search: tag, sortBy: 'name', sortOrder: 'asc', limit: 2, page: p }).set('Authorization', admin.auth).expect(200);
    const first = (await page(1)).body.data;
    const second = (await page(2)).body.data;
    expect(first.users.map((u: { name: string }) => u.name.split(' ')[0])).toEqual(['Alice', 'Bob']);
    expect(second.users.map((u: { name: string }) => u.name.split(' ')[0])).toEqual(['Charlie']);
    expect(first.pagination).toMatchObject({ total: 3, totalPages: 2, hasNext: true, hasPrev: false });
    expect(second.pagination).toMatchObject({ page: 2, hasNext: false, hasPrev: true });
  });

  it('caps limit at 100 and rejects unknown sort fields, roles and query keys with 400', async () => {
    const capped = await request.get('/api/v1/users').query({ limit: 500 }).set('Authorization', admin.auth).expect(200);
    expect(capped.body.data.pagination.limit).toBe(100);
    await request.get('/api/v1/users').query({ sortBy: 'password' }).set('Authorization', admin.auth).expect(400);
    await request.get('/api/v1/users').query({ role: 'ROOT' }).set('Authorization', admin.auth).expect(400);
    await request.get('/api/v1/users').query({ isActive: 'maybe' }).set('Authorization', admin.auth).expect(400);
    await request.get('/api/v1/users').query({ foo: 'bar' }).set('Authorization', admin.auth).expect(400);
  });
});

describe('GET /api/v1/users/:id', () => {
  it('returns the user with its subscription count, and 404 for an unknown id', async () => {
    const { user } = await createUser(db, config);
    const res = await request.get(`/api/v1/users/${user.id}`).set('Authorization', admin.auth).expect(200);
    expect(res.body.data).toMatchObject({ id: user.id, email: user.email, _count: { subscriptions: 0 } });
    noSecrets(res.body);
    const missing = await request.get('/api/v1/users/does-not-exist').set('Authorization', admin.auth).expect(404);
    expect(missing.body.code).toBe('NOT_FOUND');
  });
});

describe('POST /api/v1/users', () => {
  it('creates a user with the given role and status and a bcrypt hash', async () => {
    const email = `${unique('New')}@Example.test`;
    const res = await request.post('/api/v1/users').set('Authorization', admin.auth).send({ name: 'New Admin', email, password: PASSWORD, role: 'ADMINISTRATOR', isActive: false }).expect(201);
    expect(res.body).toMatchObject({ statusCode: 201, data: { name: 'New Admin', email: email.toLowerCase(), role: 'ADMINISTRATOR', isActive: false } });
    noSecrets(res.body);
    const row = await db.user.findUniqueOrThrow({ where: { id: res.body.data.id } });
    expect(await bcrypt.compare(PASSWORD, row.password)).toBe(true);
  });

  it('defaults role to USER and isActive to true', async () => {
    const res = await request.post('/api/v1/users').set('Authorization', admin.auth).send({ name: 'Plain', email: `${unique('p')}@example.test`, password: PASSWORD }).expect(201);
    expect(res.body.data).toMatchObject({ role: 'USER', isActive: true });
  });

  it('refuses a taken email (any case) with 409, a weak password and unknown keys with 400', async () => {
    const { user } = await createUser(db, config);
    await request.post('/api/v1/users').set('Authorization', admin.auth).send({ name: 'Dup', email: user.email.toUpperCase(), password: PASSWORD }).expect(409);
    await request.post('/api/v1/users').set('Authorization', admin.auth).send({ name: 'Weak', email: `${unique('w')}@example.test`, password: 'password' }).expect(400);
    const res = await request.post('/api/v1/users').set('Authorization', admin.auth).send({ name: 'Extra', email: `${unique('e')}@example.test`, password: PASSWORD, credits: 5 }).expect(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'credits' })]);
  });
});

describe('PUT /api/v1/users/:id', () => {
  it('updates name, email, role and status', async () => {
    const { user } = await createUser(db, config);
    const email = `${unique('upd')}@example.test`;
    const res = await request.put(`/api/v1/users/${user.id}`).set('Authorization', admin.auth).send({ name: 'Renamed', email, role: 'ADMINISTRATOR' }).expect(200);
    expect(res.body.data).toMatchObject({ id: user.id, name: 'Renamed', email, role: 'ADMINISTRATOR', _count: { subscriptions: 0 } });
    expect(await db.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({ name: 'Renamed', email, role: 'ADMINISTRATOR' });
  });

  it('deactivating ends the user\'s sessions and locks them out', async () => {
    const { user, password, auth } = await createUser(db, config);
    const login = await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200);
    await request.put(`/api/v1/users/${user.id}`).set('Authorization', admin.auth).send({ isActive: false }).expect(200);
    await request.get('/api/v1/auth/me').set('Authorization', auth).expect(401);
    expect(await db.refreshToken.count({ where: { userId: user.id, revokedAt: null } })).toBe(0);
    await request.post('/api/v1/auth/refresh').send({ refreshToken: login.body.data.tokens.refreshToken }).expect(401);
  });

  it('forbids administrators to deactivate or demote themselves (403) and changes nothing', async () => {
    for (const body of [{ isActive: false }, { role: 'USER' }]) {
      const res = await request.put(`/api/v1/users/${admin.user.id}`).set('Authorization', admin.auth).send(body).expect(403);
      expect(res.body.code).toBe('FORBIDDEN');
    }
    expect(await db.user.findUniqueOrThrow({ where: { id: admin.user.id } })).toMatchObject({ role: 'ADMINISTRATOR', isActive: true });
    await request.put(`/api/v1/users/${admin.user.id}`).set('Authorization', admin.auth).send({ name: 'Still Me' }).expect(200);
  });

  it('answers 404 for an unknown id, 409 for a taken email and 400 for an empty body', async () => {
    const other = await createUser(db, config);
    const { user } = await createUser(db, config);
    await request.put('/api/v1/users/nope').set('Authorization', admin.auth).send({ name: 'X Y' }).expect(404);
    await request.put(`/api/v1/users/${user.id}`).set('Authorization', admin.auth).send({ email: other.user.email }).expect(409);
    await request.put(`/api/v1/users/${user.id}`).set('Authorization', admin.auth).send({}).expect(400);
    await request.put(`/api/v1/users/${user.id}`).set('Authorization', admin.auth).send({ password: PASSWORD }).expect(400);
  });
});

describe('DELETE /api/v1/users/:id', () => {
  it('deletes the user and their refresh tokens', async () => {
    const { user, password } = await createUser(db, config);
    await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200);
    const res = await request.delete(`/api/v1/users/${user.id}`).set('Authorization', admin.auth).expect(200);
    expect(res.body.data).toMatchObject({ id: user.id, email: user.email });
    expect(await db.user.findUnique({ where: { id: user.id } })).toBeNull();
    expect(await db.refreshToken.count({ where: { userId: user.id } })).toBe(0);
  });

  it('refuses a user with subscriptions (409), the caller (403) and unknown ids (404)', async () => {
    const { user } = await createUser(db, config);
    await subscribe(db, user.id);
    expect((await request.delete(`/api/v1/users/${user.id}`).set('Authorization', admin.auth).expect(409)).body.code).toBe('CONFLICT');
    expect(await db.user.findUnique({ where: { id: user.id } })).not.toBeNull();
    await request.delete(`/api/v1/users/${admin.user.id}`).set('Authorization', admin.auth).expect(403);
    await request.delete('/api/v1/users/nope').set('Authorization', admin.auth).expect(404);
  });
});

describe('PATCH /api/v1/users/:id/password', () => {
  it('sets a new password and revokes the user\'s sessions', async () => {
    const { user, password } = await createUser(db, config);
    const login = await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200);
    const res = await request.patch(`/api/v1/users/${user.id}/password`).set('Authorization', admin.auth).send({ newPassword: 'Reset789#ok' }).expect(200);
    noSecrets(res.body);
    await request.post('/api/v1/auth/refresh').send({ refreshToken: login.body.data.tokens.refreshToken }).expect(401);
    await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(401);
    await request.post('/api/v1/auth/login').send({ email: user.email, password: 'Reset789#ok' }).expect(200);
  });

  it('refuses a weak password (400) and an unknown id (404)', async () => {
    const { user } = await createUser(db, config);
    await request.patch(`/api/v1/users/${user.id}/password`).set('Authorization', admin.auth).send({ newPassword: 'short' }).expect(400);
    await request.patch('/api/v1/users/nope/password').set('Authorization', admin.auth).send({ newPassword: 'Reset789#ok' }).expect(404);
  });
});

describe('PATCH /api/v1/users/:id/toggle-status', () => {
  it('flips isActive each time', async () => {
    const { user } = await createUser(db, config);
    const off = await request.patch(`/api/v1/users/${user.id}/toggle-status`).set('Authorization', admin.auth).expect(200);
    expect(off.body.data.isActive).toBe(false);
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).isActive).toBe(false);
    const on = await request.patch(`/api/v1/users/${user.id}/toggle-status`).set('Authorization', admin.auth).expect(200);
    expect(on.body.data.isActive).toBe(true);
  });

  it('applies concurrent toggles one after the other', async () => {
    const { user } = await createUser(db, config);
    await Promise.all([0, 1, 2, 3].map(() => request.patch(`/api/v1/users/${user.id}/toggle-status`).set('Authorization', admin.auth).expect(200)));
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).isActive).toBe(true);
  });

  it('forbids toggling oneself (403)', async () => {
    await request.patch(`/api/v1/users/${admin.user.id}/toggle-status`).set('Authorization', admin.auth).expect(403);
    expect((await db.user.findUniqueOrThrow({ where: { id: admin.user.id } })).isActive).toBe(true);
  });
});
