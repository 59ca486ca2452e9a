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
  it('cannot deactivate their own account (403), with or without other administrators', async () => {
    for (const n of [1, 2]) {
      const [admin] = await onlyAdmins(n);
      const res = await ctx.request.delete('/api/v1/auth/account').set('Authorization', admin!.auth).expect(403);
      expect(res.body.code).toBe('FORBIDDEN');
      expect((await ctx.db.user.findUniqueOrThrow({ where: { id: admin!.user.id } })).isActive).toBe(true);
      expect(await activeAdmins()).toBe(n);
    }
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

  // Every kind of removal at once, among administrators removing each other (and themselves):
  // they deadlocked in PostgreSQL and answered 500, and one that read the administrators before
  // others committed could remove the last one.
  it('serializes concurrent removals of every kind: never a 500, a 409 when the guard refuses, one administrator always left', async () => {
    const kinds: [string, (target: string, other: string) => { method: 'put' | 'patch' | 'delete' | 'post'; path: string; body?: object }][] = [
      ['deactivate', (id) => ({ method: 'put', path: `/api/v1/users/${id}`, body: { isActive: false } })],
      ['demote', (id) => ({ method: 'put', path: `/api/v1/users/${id}`, body: { role: 'USER' } })],
      ['delete', (id) => ({ method: 'delete', path: `/api/v1/users/${id}` })],
      ['toggle', (id) => ({ method: 'patch', path: `/api/v1/users/${id}/toggle-status` })],
      ['bulk-deactivate', (id, other) => ({ method: 'post', path: '/api/v1/users/bulk', body: { action: 'deactivate', userIds: [id, other] } })],
      ['bulk-demote', (id, other) => ({ method: 'post', path: '/api/v1/users/bulk', body: { action: 'set-role', role: 'USER', userIds: [other, id] } })],
      ['bulk-delete', (id, other) => ({ method: 'post', path: '/api/v1/users/bulk', body: { action: 'delete', userIds: [id, other] } })],
      ['self-deactivate', () => ({ method: 'delete', path: '/api/v1/auth/account' })],
    ];
    // A fixed pseudo-random sequence (mulberry32), so a failure replays.
    let seed = 20261202;
    const next = (n: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return (((t ^ (t >>> 14)) >>> 0) % n) as number;
    };
    const statuses = new Map<number, number>();
    for (let round = 0; round < 25; round++) {
      const admins = await onlyAdmins(6);
      // Some were administrators before: toggles bring them back while the others remove.
      await ctx.db.user.updateMany({ where: { id: { in: admins.slice(4).map((a) => a.user.id) } }, data: { isActive: false } });
      const results = await Promise.all(
        Array.from({ length: 14 }, () => {
          const [, route] = kinds[next(kinds.length)]!;
          const r = route(admins[next(6)]!.user.id, admins[next(6)]!.user.id);
          const req = ctx.request[r.method](r.path).set('Authorization', admins[next(4)]!.auth);
          return r.body ? req.send(r.body) : req;
        }),
      );
      for (const res of results) {
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect({ status: res.status, body: res.status >= 500 ? res.body : undefined }).toEqual({ status: expect.any(Number), body: undefined });
        if (res.status === 409) expect(res.body.code).toBe('CONFLICT');
      }
      expect(await activeAdmins()).toBeGreaterThanOrEqual(1);
    }
    expect([...statuses.keys()].every((s) => [200, 401, 403, 404, 409].includes(s))).toBe(true);
    expect(statuses.get(409)).toBeGreaterThan(0);
  }, 60_000);
});
