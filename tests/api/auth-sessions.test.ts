import bcrypt from 'bcrypt';
import { afterAll, describe, expect, it } from 'vitest';
import { createAdmin, createUser } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';

// What ends a session, and when: at once, for refresh tokens and access tokens alike.
const ctx = createTestContext();
const { request, db, config } = ctx;
afterAll(() => ctx.close());

const NEW = 'BrandNew456$';

async function twoSessions() {
  const { user, password } = await createUser(db, config);
  const login = async () => (await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200)).body.data.tokens as { accessToken: string; refreshToken: string };
  return { user, password, a: await login(), b: await login() };
}

const me = (accessToken: string) => request.get('/api/v1/auth/me').set('Authorization', `Bearer ${accessToken}`);

describe('access tokens end with the sessions they belong to', () => {
  it("a password change ends every other session's access token at once; the caller's new one works at once", async () => {
    const { user, password, a, b } = await twoSessions();
    await me(b.accessToken).expect(200);
    const res = await request
      .post('/api/v1/auth/change-password')
      .set('Authorization', `Bearer ${a.accessToken}`)
      .send({ currentPassword: password, newPassword: NEW, confirmNewPassword: NEW })
      .expect(200);
    // Within the same second as the change, so a comparison of issue times in whole seconds would not do.
    await me(res.body.data.tokens.accessToken).expect(200);
    const other = await me(b.accessToken).expect(401);
    expect(other.body.code).toBe('INVALID_TOKEN');
    await me(a.accessToken).expect(401);
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).tokenVersion).toBe(1);
    expect(await db.refreshToken.count({ where: { userId: user.id, revokedAt: null } })).toBe(1);
  });

  it("an administrator's password reset ends the user's access tokens at once", async () => {
    const { user, a } = await twoSessions();
    const admin = await createAdmin(db, config);
    await request.patch(`/api/v1/users/${user.id}/password`).set('Authorization', admin.auth).send({ newPassword: NEW }).expect(200);
    await me(a.accessToken).expect(401);
    const fresh = await request.post('/api/v1/auth/login').send({ email: user.email, password: NEW }).expect(200);
    await me(fresh.body.data.tokens.accessToken).expect(200);
  });

  it.each([
    ['PUT /users/:id', (id: string, isActive: boolean) => ({ method: 'put' as const, path: `/api/v1/users/${id}`, body: { isActive } })],
    ['PATCH /users/:id/toggle-status', (id: string) => ({ method: 'patch' as const, path: `/api/v1/users/${id}/toggle-status`, body: undefined })],
    ['POST /users/bulk', (id: string, isActive: boolean) => ({ method: 'post' as const, path: '/api/v1/users/bulk', body: { action: isActive ? 'activate' : 'deactivate', userIds: [id] } })],
  ])('deactivating then reactivating (%s) does not bring old access tokens back', async (_route, call) => {
    const { user, a, password } = await twoSessions();
    const admin = await createAdmin(db, config);
    for (const isActive of [false, true]) {
      const r = call(user.id, isActive);
      const req = request[r.method](r.path).set('Authorization', admin.auth);
      await (r.body ? req.send(r.body) : req).expect(200);
    }
    expect(await db.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({ isActive: true, tokenVersion: 1 });
    await me(a.accessToken).expect(401);
    await request.post('/api/v1/auth/refresh').send({ refreshToken: a.refreshToken }).expect(401);
    const fresh = await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200);
    await me(fresh.body.data.tokens.accessToken).expect(200);
  });

  it('a renamed or promoted user keeps their tokens: only what ends sessions ends them', async () => {
    const { user, a } = await twoSessions();
    const admin = await createAdmin(db, config);
    await request.put(`/api/v1/users/${user.id}`).set('Authorization', admin.auth).send({ name: 'Renamed Person', role: 'ADMINISTRATOR' }).expect(200);
    await me(a.accessToken).expect(200);
  });
});

describe('POST /api/v1/auth/change-password, ten at once', () => {
  it('applies one: the others fail as the current password no longer matches, and nothing else changed', async () => {
    const { user, password } = await createUser(db, config);
    const { accessToken } = (await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200)).body.data.tokens;
    const candidates = Array.from({ length: 10 }, (_, i) => `Parallel${i}!ok`);
    const results = await Promise.all(
      candidates.map((next) => request.post('/api/v1/auth/change-password').set('Authorization', `Bearer ${accessToken}`).send({ currentPassword: password, newPassword: next, confirmNewPassword: next })),
    );
    const winners = results.flatMap((r, i) => (r.status === 200 ? [i] : []));
    expect(winners).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) {
      // Checked before the winner committed: the current password no longer matches. Arrived after:
      // the caller's access token already ended with the change.
      if (r.status === 401) expect(r.body.code).toBe('INVALID_TOKEN');
      else expect({ status: r.status, errors: r.body.errors }).toEqual({ status: 400, errors: [expect.objectContaining({ field: 'currentPassword' })] });
    }
    const winner = winners[0] as number;
    const row = await db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(await bcrypt.compare(candidates[winner] as string, row.password)).toBe(true);
    expect(row.tokenVersion).toBe(1);
    expect(await db.domainEvent.count({ where: { userId: user.id, type: 'user.password_changed' } })).toBe(1);
    const live = await db.refreshToken.findMany({ where: { userId: user.id, revokedAt: null } });
    expect(live).toHaveLength(1);
    await me((results[winner]?.body.data.tokens as { accessToken: string }).accessToken).expect(200);
  });
});

describe('PATCH /api/v1/users/:id/password on oneself', () => {
  it('is refused with 403 (change-password asks for the current password) and changes nothing', async () => {
    const admin = await createAdmin(db, config);
    const res = await request.patch(`/api/v1/users/${admin.user.id}/password`).set('Authorization', admin.auth).send({ newPassword: NEW }).expect(403);
    expect(res.body.code).toBe('FORBIDDEN');
    const row = await db.user.findUniqueOrThrow({ where: { id: admin.user.id } });
    expect(row.password).toBe(admin.user.password);
    expect(row.tokenVersion).toBe(0);
    await me(admin.token).expect(200);
  });
});
