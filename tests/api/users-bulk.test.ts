import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin, createUser } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';
import { subscribe } from './users-fixtures.js';

const ctx = createTestContext();
const { request, db, config } = ctx;
afterAll(() => ctx.close());

let admin: Awaited<ReturnType<typeof createAdmin>>;
beforeAll(async () => {
  admin = await createAdmin(db, config);
});

const bulk = (body: object) => request.post('/api/v1/users/bulk').set('Authorization', admin.auth).send(body);
const users = async (n: number, overrides: Parameters<typeof createUser>[2] = {}) => Promise.all(Array.from({ length: n }, () => createUser(db, config, overrides)));
const states = async (ids: string[]) => (await db.user.findMany({ where: { id: { in: ids } }, select: { id: true, isActive: true, role: true }, orderBy: { id: 'asc' } }));

describe('POST /api/v1/users/bulk', () => {
  it('deactivates users, reports per-id results and revokes their sessions', async () => {
    const [a, b] = await users(2);
    const [c] = await users(1, { isActive: false });
    const ids = [a!.user.id, b!.user.id, c!.user.id];
    await request.post('/api/v1/auth/login').send({ email: a!.user.email, password: a!.password }).expect(200);

    const res = await bulk({ action: 'deactivate', userIds: ids }).expect(200);
    expect(res.body.data).toMatchObject({ action: 'deactivate', requested: 3, affected: 2 });
    expect(res.body.data.results).toEqual([
      { id: a!.user.id, status: 'updated' },
      { id: b!.user.id, status: 'updated' },
      { id: c!.user.id, status: 'unchanged' },
    ]);
    expect((await states(ids)).every((u) => !u.isActive)).toBe(true);
    expect(await db.refreshToken.count({ where: { userId: a!.user.id, revokedAt: null } })).toBe(0);
  });

  it('activates users and counts duplicated ids once', async () => {
    const [a, b] = await users(2, { isActive: false });
    const res = await bulk({ action: 'activate', userIds: [a!.user.id, b!.user.id, a!.user.id] }).expect(200);
    expect(res.body.data).toMatchObject({ requested: 2, affected: 2 });
    expect((await states([a!.user.id, b!.user.id])).every((u) => u.isActive)).toBe(true);
  });

  it('sets a role', async () => {
    const [a, b] = await users(2);
    await bulk({ action: 'set-role', role: 'ADMINISTRATOR', userIds: [a!.user.id, b!.user.id] }).expect(200);
    expect((await states([a!.user.id, b!.user.id])).map((u) => u.role)).toEqual(['ADMINISTRATOR', 'ADMINISTRATOR']);
  });

  it('deletes users', async () => {
    const [a, b] = await users(2);
    const res = await bulk({ action: 'delete', userIds: [a!.user.id, b!.user.id] }).expect(200);
    expect(res.body.data.results.map((r: { status: string }) => r.status)).toEqual(['deleted', 'deleted']);
    expect(await states([a!.user.id, b!.user.id])).toEqual([]);
  });

  it('changes nothing when one id is unknown (404 naming the id)', async () => {
    const [a] = await users(1);
    const res = await bulk({ action: 'deactivate', userIds: [a!.user.id, 'missing-id'] }).expect(404);
    expect(res.body.errors).toEqual([{ field: 'userIds.1', message: expect.stringContaining('missing-id') }]);
    expect((await states([a!.user.id]))[0]?.isActive).toBe(true);
  });

  it('changes nothing when one user has subscriptions (409)', async () => {
    const [a, b] = await users(2);
    await subscribe(db, b!.user.id);
    const res = await bulk({ action: 'delete', userIds: [a!.user.id, b!.user.id] }).expect(409);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'userIds.1' })]);
    expect(await states([a!.user.id, b!.user.id])).toHaveLength(2);
  });

  it.each(['deactivate', 'delete'])('refuses to %s the caller (403) and changes nobody', async (action) => {
    const [a] = await users(1);
    const res = await bulk({ action, userIds: [a!.user.id, admin.user.id] }).expect(403);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'userIds.1' })]);
    expect((await states([a!.user.id]))[0]?.isActive).toBe(true);
  });

  it('refuses to demote the caller but lets them appear in harmless actions', async () => {
    await bulk({ action: 'set-role', role: 'USER', userIds: [admin.user.id] }).expect(403);
    await bulk({ action: 'activate', userIds: [admin.user.id] }).expect(200);
    await bulk({ action: 'set-role', role: 'ADMINISTRATOR', userIds: [admin.user.id] }).expect(200);
    expect((await states([admin.user.id]))[0]).toMatchObject({ role: 'ADMINISTRATOR', isActive: true });
  });

  it.each([
    ['an unknown action', { action: 'promote', userIds: ['a'] }],
    ['no ids', { action: 'activate', userIds: [] }],
    ['more than 100 ids', { action: 'activate', userIds: Array.from({ length: 101 }, (_, i) => `id-${i}`) }],
    ['set-role without a role', { action: 'set-role', userIds: ['a'] }],
    ['a role with another action', { action: 'activate', role: 'USER', userIds: ['a'] }],
    ['an unknown key', { action: 'activate', userIds: ['a'], force: true }],
  ])('rejects %s with 400', async (_case, body) => {
    const res = await bulk(body).expect(400);
    expect(res.body.code).toBe('VALIDATION_ERROR');
  });
});
