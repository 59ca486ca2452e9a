import jwt from 'jsonwebtoken';
import { afterAll, describe, expect, it } from 'vitest';
import { sqlFor } from '../../src/lib/sql.js';
import { deleteExpiredTokens, hashToken, signIn as signInUser } from '../../src/modules/auth/auth.sessions.js';
import { createUser } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';

const ctx = createTestContext();
const { request, db, config } = ctx;
const noReuse = createTestContext({ env: { REFRESH_TOKEN_REUSE_INTERVAL_SECONDS: '0' } });
afterAll(async () => {
  await ctx.close();
  await noReuse.close();
});

async function signIn() {
  const { user, password } = await createUser(db, config);
  const res = await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200);
  return { user, password, tokens: res.body.data.tokens as { accessToken: string; refreshToken: string } };
}

const refresh = (refreshToken: string) => request.post('/api/v1/auth/refresh').send({ refreshToken });
/** Moves a used token's rotation back in time, as if the reuse interval (10 s by default) had passed. */
const rotatedLongAgo = (refreshToken: string) =>
  db.refreshToken.update({ where: { tokenHash: hashToken(refreshToken) }, data: { usedAt: new Date(Date.now() - (config.jwt.refreshReuseSeconds + 1) * 1000) } });

describe('login writes', () => {
  const sql = sqlFor(db);

  it('opens one session, records the login and removes only the user\'s expired tokens', async () => {
    const { user, password } = await createUser(db, config);
    const other = await createUser(db, config);
    const past = new Date(Date.now() - 1000);
    await db.refreshToken.createMany({
      data: [
        { tokenHash: hashToken(`expired-${user.id}`), familyId: 'old-family', userId: user.id, expiresAt: past },
        { tokenHash: hashToken(`expired-${other.user.id}`), familyId: 'other-family', userId: other.user.id, expiresAt: past },
      ],
    });
    const before = new Date();
    const res = await request.post('/api/v1/auth/login').set('User-Agent', 'login-writes-test').send({ email: user.email, password }).expect(200);
    const { refreshToken } = res.body.data.tokens as { refreshToken: string };

    const [row, ...rest] = await db.refreshToken.findMany({ where: { userId: user.id } });
    expect(rest).toHaveLength(0);
    expect(row?.tokenHash).toBe(hashToken(refreshToken));
    expect(row?.userAgent).toBe('login-writes-test');
    expect(row?.usedAt).toBeNull();
    expect(Math.abs((row?.expiresAt.getTime() ?? 0) - (before.getTime() + config.jwt.refreshTtlSeconds * 1000))).toBeLessThan(5000);
    expect(row?.createdAt.getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);
    expect(await db.refreshToken.count({ where: { userId: other.user.id } })).toBe(1);

    const stored = await db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(stored.lastLoginAt?.getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);
    // A login is not an edit: updatedAt stays (its index would make every login's update non-HOT).
    expect(stored.updatedAt).toEqual(user.updatedAt);
    expect(res.body.data.user.lastLoginAt).toBe(stored.lastLoginAt?.toISOString());
  });

  it('writes nothing for a user deactivated or deleted while the password was checked', async () => {
    const { user } = await createUser(db, config);
    await db.user.update({ where: { id: user.id }, data: { isActive: false } });
    expect(await signInUser(sql, config, user.id, {})).toBeUndefined();
    expect(await signInUser(sql, config, `missing-${user.id}`, {})).toBeUndefined();
    expect(await db.refreshToken.count({ where: { userId: user.id } })).toBe(0);
    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).lastLoginAt).toBeNull();
  });
});

describe('POST /api/v1/auth/refresh', () => {
  it('rotates: returns a new pair, marks the old token used and keeps one family', async () => {
    const { user, tokens } = await signIn();
    const res = await refresh(tokens.refreshToken).expect(200);
    const next = res.body.data.tokens;
    expect(next.refreshToken).not.toBe(tokens.refreshToken);
    expect(next.expiresIn).toBe(config.jwt.accessTtlSeconds);
    await request.get('/api/v1/auth/me').set('Authorization', `Bearer ${next.accessToken}`).expect(200);

    const rows = await db.refreshToken.findMany({ where: { userId: user.id }, orderBy: { createdAt: 'asc' } });
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((r) => r.familyId)).size).toBe(1);
    const old = rows.find((r) => r.tokenHash === hashToken(tokens.refreshToken));
    expect(old?.usedAt).not.toBeNull();
  });

  it('deletes the user\'s expired refresh tokens when it issues a new one, and only those', async () => {
    const { user, tokens } = await signIn();
    const past = new Date(Date.now() - 1000);
    await db.refreshToken.create({ data: { tokenHash: hashToken(`expired-${user.id}`), familyId: 'old-family', userId: user.id, expiresAt: past } });
    const other = await createUser(db, config);
    await db.refreshToken.create({ data: { tokenHash: hashToken(`expired-${other.user.id}`), familyId: 'other-family', userId: other.user.id, expiresAt: past } });

    await refresh(tokens.refreshToken).expect(200);
    const mine = await db.refreshToken.findMany({ where: { userId: user.id } });
    expect(mine.some((r) => r.expiresAt < new Date())).toBe(false);
    expect(mine).toHaveLength(2);
    expect(await db.refreshToken.count({ where: { userId: other.user.id } })).toBe(1);
  });

  it('lets the cleanup job delete every user\'s tokens that expired before its clock, and only those', async () => {
    // A clock in the past keeps the other test files' recently expired tokens out of this test.
    const clock = new Date('2001-01-01T00:00:00Z');
    const [a, b] = await Promise.all([createUser(db, config), createUser(db, config)]);
    const row = (userId: string, label: string, expiresAt: Date) => ({ tokenHash: hashToken(`${label}-${userId}`), familyId: `f-${userId}`, userId, expiresAt });
    await db.refreshToken.createMany({
      data: [row(a.user.id, 'old', new Date('2000-06-01T00:00:00Z')), row(b.user.id, 'old', new Date('2000-07-01T00:00:00Z')), row(a.user.id, 'later', new Date('2001-06-01T00:00:00Z'))],
    });
    expect(await deleteExpiredTokens(db, clock)).toBeGreaterThanOrEqual(2);
    const left = await db.refreshToken.findMany({ where: { userId: { in: [a.user.id, b.user.id] } } });
    expect(left.map((r) => r.tokenHash)).toEqual([hashToken(`later-${a.user.id}`)]);
  });

  it('stores only a hash of the refresh token', async () => {
    const { user, tokens } = await signIn();
    const rows = await db.refreshToken.findMany({ where: { userId: user.id } });
    expect(rows.map((r) => r.tokenHash)).toEqual([hashToken(tokens.refreshToken)]);
    expect(JSON.stringify(rows)).not.toContain(tokens.refreshToken);
  });

  it('treats a token replayed after the reuse interval as theft: 401 and the whole family is revoked', async () => {
    const { user, tokens } = await signIn();
    const rotated = (await refresh(tokens.refreshToken).expect(200)).body.data.tokens;
    await rotatedLongAgo(tokens.refreshToken);
    const reuse = await refresh(tokens.refreshToken).expect(401);
    expect(reuse.body.code).toBe('INVALID_TOKEN');
    await refresh(rotated.refreshToken).expect(401);
    expect(await db.refreshToken.count({ where: { userId: user.id, revokedAt: null } })).toBe(0);
  });

  it('answers concurrent refreshes of one token (two tabs, a retry) each with working tokens of the same session', async () => {
    const { user, tokens } = await signIn();
    const results = await Promise.all(Array.from({ length: 8 }, () => refresh(tokens.refreshToken)));
    expect(results.map((r) => r.status)).toEqual(Array<number>(8).fill(200));
    const pairs = results.map((r) => r.body.data.tokens as { accessToken: string; refreshToken: string });
    expect(new Set(pairs.map((p) => p.refreshToken)).size).toBe(8);
    for (const p of pairs) await request.get('/api/v1/auth/me').set('Authorization', `Bearer ${p.accessToken}`).expect(200);

    const rows = await db.refreshToken.findMany({ where: { userId: user.id } });
    expect(rows).toHaveLength(9);
    expect(new Set(rows.map((r) => r.familyId)).size).toBe(1);
    expect(rows.filter((r) => r.revokedAt !== null)).toHaveLength(0);
    // Every token handed out refreshes in turn.
    for (const p of pairs) await refresh(p.refreshToken).expect(200);
  });

  it('lets a token be presented again within the interval, but not after a logout of its session', async () => {
    const { tokens } = await signIn();
    const first = (await refresh(tokens.refreshToken).expect(200)).body.data.tokens;
    await refresh(tokens.refreshToken).expect(200);
    await request.post('/api/v1/auth/logout').send({ refreshToken: first.refreshToken }).expect(200);
    expect((await refresh(tokens.refreshToken).expect(401)).body.code).toBe('INVALID_TOKEN');
  });

  it('with a reuse interval of 0, lets exactly one of several concurrent refreshes of one token succeed', async () => {
    const { user, password } = await createUser(noReuse.db, noReuse.config);
    const { refreshToken } = (await noReuse.request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200)).body.data.tokens;
    const results = await Promise.all(Array.from({ length: 8 }, () => noReuse.request.post('/api/v1/auth/refresh').send({ refreshToken })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(7);
  });

  it('does not affect another session of the same user', async () => {
    const { user, password, tokens } = await signIn();
    const other = (await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200)).body.data.tokens;
    await refresh(tokens.refreshToken).expect(200);
    await rotatedLongAgo(tokens.refreshToken);
    await refresh(tokens.refreshToken).expect(401);
    await refresh(other.refreshToken).expect(200);
  });

  it('rejects an unknown token, an access token and an expired token with 401', async () => {
    const { user, tokens } = await signIn();
    expect((await refresh('not-a-real-token').expect(401)).body.code).toBe('INVALID_TOKEN');
    await refresh(tokens.accessToken).expect(401);
    await db.refreshToken.updateMany({ where: { userId: user.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await refresh(tokens.refreshToken).expect(401)).body.code).toBe('TOKEN_EXPIRED');
  });

  it('refuses the token of a deactivated user and leaves it unused', async () => {
    const { user, tokens } = await signIn();
    await db.user.update({ where: { id: user.id }, data: { isActive: false } });
    expect((await refresh(tokens.refreshToken).expect(403)).body.code).toBe('ACCOUNT_DISABLED');
    const row = await db.refreshToken.findUniqueOrThrow({ where: { tokenHash: hashToken(tokens.refreshToken) } });
    expect(row.usedAt).toBeNull();
  });

  it('rejects a missing or extra field with 400', async () => {
    await request.post('/api/v1/auth/refresh').send({}).expect(400);
    const res = await request.post('/api/v1/auth/refresh').send({ refreshToken: 'x', userId: 'y' }).expect(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'userId' })]);
  });
});

describe('POST /api/v1/auth/logout', () => {
  it('revokes the family of the token so neither it nor its successors refresh', async () => {
    const { user, tokens } = await signIn();
    const rotated = (await refresh(tokens.refreshToken).expect(200)).body.data.tokens;
    await request.post('/api/v1/auth/logout').send({ refreshToken: rotated.refreshToken }).expect(200);
    await refresh(rotated.refreshToken).expect(401);
    expect(await db.refreshToken.count({ where: { userId: user.id, revokedAt: null } })).toBe(0);
  });

  it('rejects an unknown refresh token with 401', async () => {
    await request.post('/api/v1/auth/logout').send({ refreshToken: 'unknown-token' }).expect(401);
  });
});

describe('access tokens', () => {
  it('refuses an issued refresh token presented as a bearer access token with 401', async () => {
    const { tokens } = await signIn();
    const res = await request.get('/api/v1/auth/me').set('Authorization', `Bearer ${tokens.refreshToken}`).expect(401);
    expect(res.body).toMatchObject({ success: false, code: 'INVALID_TOKEN' });
    // The refresh token itself is untouched and still refreshes.
    await refresh(tokens.refreshToken).expect(200);
  });

  const sign = (payload: object, options: jwt.SignOptions = {}, secret = config.jwt.secret) =>
    jwt.sign(payload, secret, { algorithm: 'HS256', issuer: config.jwt.issuer, audience: config.jwt.audience, expiresIn: 60, ...options });

  it.each([
    ['a wrong type claim', () => ({ payload: { typ: 'refresh' } })],
    ['no type claim', () => ({ payload: {} })],
    ['another issuer', () => ({ payload: { typ: 'access' }, options: { issuer: 'someone-else' } })],
    ['another audience', () => ({ payload: { typ: 'access' }, options: { audience: 'another-api' } })],
    ['another secret', () => ({ payload: { typ: 'access' }, secret: 'x'.repeat(40) })],
    ['an expiry in the past', () => ({ payload: { typ: 'access' }, options: { expiresIn: -10 } })],
  ])('rejects a token with %s', async (_case, make) => {
    const { user } = await createUser(db, config);
    const { payload, options, secret } = make() as { payload: object; options?: jwt.SignOptions; secret?: string };
    const token = sign(payload, { subject: user.id, ...options }, secret);
    await request.get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`).expect(401);
  });

  it('rejects an unsigned (alg none) token', async () => {
    const { user } = await createUser(db, config);
    const token = jwt.sign({ typ: 'access', sub: user.id, iss: config.jwt.issuer, aud: config.jwt.audience, exp: Math.floor(Date.now() / 1000) + 60 }, '', { algorithm: 'none' });
    await request.get('/api/v1/auth/me').set('Authorization', `Bearer ${token}`).expect(401);
  });

  it('locks a user out at once when an administrator deactivates them', async () => {
    const { user, auth } = await createUser(db, config);
    await request.get('/api/v1/auth/me').set('Authorization', auth).expect(200);
    await db.user.update({ where: { id: user.id }, data: { isActive: false } });
    await request.get('/api/v1/auth/me').set('Authorization', auth).expect(401);
  });
});
