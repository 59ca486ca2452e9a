import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runPrisma } from '../../src/lib/migrate.js';
import { createAdmin, createUser } from '../factories/index.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { createDatabase, dropDatabase } from '../helpers/test-database.js';
import { subscribe } from './users-fixtures.js';

// These tests need to know every user in the database (the last administrator, exact statistics),
// so they run on a database of their own instead of the one shared by the other files.
const adminUrl = inject('adminDatabaseUrl');
let databaseUrl: string;
let ctx: TestContext;

beforeAll(async () => {
  databaseUrl = await createDatabase(adminUrl, 'minispod_users');
  await runPrisma(['migrate', 'deploy'], databaseUrl);
  ctx = createTestContext({ env: { DATABASE_URL: databaseUrl } });
});
afterAll(async () => {
  await ctx?.close();
  if (databaseUrl) await dropDatabase(adminUrl, databaseUrl);
});

const activeAdmins = () => ctx.db.user.count({ where: { role: 'ADMINISTRATOR', isActive: true } });
/** Leaves exactly `n` fresh active administrators. */
async function onlyAdmins(n: number) {
  await ctx.db.user.updateMany({ where: { role: 'ADMINISTRATOR' }, data: { isActive: false } });
  return Promise.all(Array.from({ length: n }, () => createAdmin(ctx.db, ctx.config)));
}

describe('GET /api/v1/users/stats', () => {
  it('counts totals, status, roles, recent sign-ups and subscribers', async () => {
    const { db, config } = ctx;
    const admin = await createAdmin(db, config);
    const active = await createUser(db, config);
    await createUser(db, config, { isActive: false });
    const old = await createUser(db, config);
    const older = await createUser(db, config);
    await db.user.update({ where: { id: old.user.id }, data: { createdAt: new Date(Date.now() - 10 * 86_400_000) } });
    await db.user.update({ where: { id: older.user.id }, data: { createdAt: new Date(Date.now() - 40 * 86_400_000) } });
    await subscribe(db, active.user.id);

    const res = await ctx.request.get('/api/v1/users/stats').set('Authorization', admin.auth).expect(200);
    expect(res.body.data).toEqual({
      totalUsers: 5,
      activeUsers: 4,
      inactiveUsers: 1,
      adminUsers: 1,
      regularUsers: 4,
      byRole: { USER: 4, ADMINISTRATOR: 1 },
      newUsersLast7Days: 3,
      newUsersLast30Days: 4,
      usersWithSubscriptions: 1,
      usersWithoutSubscriptions: 4,
    });
  });
});

describe('the last active administrator', () => {
  it('cannot deactivate their own account (409) and stays active', async () => {
    const [admin] = await onlyAdmins(1);
    await createAdmin(ctx.db, ctx.config, { isActive: false });
    const res = await ctx.request.delete('/api/v1/auth/account').set('Authorization', admin!.auth).expect(409);
    expect(res.body.code).toBe('CONFLICT');
    expect((await ctx.db.user.findUniqueOrThrow({ where: { id: admin!.user.id } })).isActive).toBe(true);
  });

  it('can deactivate their own account once another administrator is active', async () => {
    const [a] = await onlyAdmins(2);
    await ctx.request.delete('/api/v1/auth/account').set('Authorization', a!.auth).expect(200);
    expect(await activeAdmins()).toBe(1);
  });

  // Each administrator removes the other at the same time; without serialization both would pass
  // their check and no administrator would be left.
  const removals: [string, (target: string) => { method: 'put' | 'patch' | 'delete' | 'post'; path: string; body?: object }][] = [
    ['demote', (id) => ({ method: 'put', path: `/api/v1/users/${id}`, body: { role: 'USER' } })],
    ['deactivate', (id) => ({ method: 'put', path: `/api/v1/users/${id}`, body: { isActive: false } })],
    ['toggle off', (id) => ({ method: 'patch', path: `/api/v1/users/${id}/toggle-status` })],
    ['delete', (id) => ({ method: 'delete', path: `/api/v1/users/${id}` })],
    ['bulk-deactivate', (id) => ({ method: 'post', path: '/api/v1/users/bulk', body: { action: 'deactivate', userIds: [id] } })],
    ['bulk-demote', (id) => ({ method: 'post', path: '/api/v1/users/bulk', body: { action: 'set-role', role: 'USER', userIds: [id] } })],
  ];

  it.each(removals)('survives two administrators who %s each other at once', async (_name, route) => {
    for (let round = 0; round < 5; round++) {
      const [a, b] = await onlyAdmins(2);
      const send = (caller: typeof a, target: string) => {
        const r = route(target);
        const req = ctx.request[r.method](r.path).set('Authorization', caller!.auth);
        return r.body ? req.send(r.body) : req;
      };
      const [first, second] = await Promise.all([send(a, b!.user.id), send(b, a!.user.id)]);
      const statuses = [first.status, second.status].sort();
      expect(statuses[0]).toBe(200);
      expect([403, 409]).toContain(statuses[1]);
      expect(await activeAdmins()).toBe(1);
    }
  });
});
