import { afterAll, describe, expect, it } from 'vitest';
import { createUser, unique } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';

// Each context has its own in-memory limiter store, so these counts are not shared with other files.
const perIp = createTestContext({ env: { AUTH_RATE_LIMIT_MAX: '3', AUTH_RATE_LIMIT_ACCOUNT_MAX: '0' } });
const perAccount = createTestContext({ env: { AUTH_RATE_LIMIT_MAX: '0', AUTH_RATE_LIMIT_ACCOUNT_MAX: '2' } });
// Client addresses come from X-Forwarded-For here, so one test can speak from several.
const lockout = createTestContext({ env: { AUTH_RATE_LIMIT_MAX: '0', AUTH_RATE_LIMIT_ACCOUNT_MAX: '3', AUTH_RATE_LIMIT_ACCOUNT_CEILING: '6', TRUST_PROXY: 'true' } });
afterAll(async () => {
  await perIp.close();
  await perAccount.close();
  await lockout.close();
});

const email = () => `${unique('rl')}@example.test`;

describe('POST /api/v1/auth/login rate limits', () => {
  it('answers 429 with Retry-After once one address exceeds the limit, whatever the account', async () => {
    for (let i = 0; i < 3; i++) await perIp.request.post('/api/v1/auth/login').send({ email: email(), password: 'Wrong123!x' }).expect(401);
    const res = await perIp.request.post('/api/v1/auth/login').send({ email: email(), password: 'Wrong123!x' }).expect(429);
    expect(res.body).toMatchObject({ success: false, code: 'RATE_LIMITED', statusCode: 429 });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('limits attempts per account (case-insensitively) while other accounts still get in', async () => {
    const { user, password } = await createUser(perAccount.db, perAccount.config);
    await perAccount.request.post('/api/v1/auth/login').send({ email: user.email, password: 'Wrong123!x' }).expect(401);
    await perAccount.request.post('/api/v1/auth/login').send({ email: user.email.toUpperCase(), password: 'Wrong123!x' }).expect(401);
    await perAccount.request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(429);

    const other = await createUser(perAccount.db, perAccount.config);
    await perAccount.request.post('/api/v1/auth/login').send({ email: other.user.email, password: other.password }).expect(200);
  });

  it('counts login and register separately', async () => {
    const address = email();
    const body = { name: 'Rate Limited', email: address, password: 'SecurePass123!', confirmPassword: 'SecurePass123!' };
    await perAccount.request.post('/api/v1/auth/login').send({ email: address, password: 'Wrong123!x' }).expect(401);
    await perAccount.request.post('/api/v1/auth/login').send({ email: address, password: 'Wrong123!x' }).expect(401);
    await perAccount.request.post('/api/v1/auth/register').send(body).expect(201);
  });
});

describe('POST /api/v1/auth/login: nobody can lock an owner out', () => {
  const login = (address: string, email: string, password: string) => lockout.request.post('/api/v1/auth/login').set('X-Forwarded-For', address).send({ email, password });

  it("limits a stranger's wrong passwords at the stranger's address only: the owner still signs in from theirs", async () => {
    const { user, password } = await createUser(lockout.db, lockout.config);
    for (let i = 0; i < 3; i++) await login('198.51.100.7', user.email, 'Wrong123!x').expect(401);
    const blocked = await login('198.51.100.7', user.email, 'Wrong123!x').expect(429);
    expect(blocked.body.code).toBe('RATE_LIMITED');
    // Even the right password is refused from the stranger's address until the window ends...
    await login('198.51.100.7', user.email, password).expect(429);
    // ...and accepted from the owner's.
    const res = await login('198.51.100.8', user.email, password).expect(200);
    expect(res.body.data.user.id).toBe(user.id);
    expect(await lockout.db.refreshToken.count({ where: { userId: user.id } })).toBe(1);
  });

  it('counts failures only: successful logins never use up the limit, and one clears the failures before it', async () => {
    const { user, password } = await createUser(lockout.db, lockout.config);
    for (let i = 0; i < 5; i++) await login('198.51.100.9', user.email, password).expect(200);
    for (let round = 0; round < 3; round++) {
      await login('198.51.100.9', user.email, 'Wrong123!x').expect(401);
      await login('198.51.100.9', user.email, 'Wrong123!x').expect(401);
      await login('198.51.100.9', user.email, password).expect(200);
    }
    expect(await lockout.db.refreshToken.count({ where: { userId: user.id } })).toBe(8);
  });

  it('keeps a ceiling of failures per account across all addresses', async () => {
    const { user, password } = await createUser(lockout.db, lockout.config);
    for (let i = 0; i < 6; i++) await login(`198.51.101.${i % 3}`, user.email, 'Wrong123!x').expect(401);
    await login('198.51.101.50', user.email, 'Wrong123!x').expect(429);
    await login('198.51.101.51', user.email, password).expect(429);
    expect(await lockout.db.refreshToken.count({ where: { userId: user.id } })).toBe(0);
    // Another account is not affected.
    const other = await createUser(lockout.db, lockout.config);
    await login('198.51.101.50', other.user.email, other.password).expect(200);
  });
});

describe('POST /api/v1/auth/refresh rate limits', () => {
  it('limits attempts per refresh token', async () => {
    for (let i = 0; i < 2; i++) await perAccount.request.post('/api/v1/auth/refresh').send({ refreshToken: 'same-guess' }).expect(401);
    await perAccount.request.post('/api/v1/auth/refresh').send({ refreshToken: 'same-guess' }).expect(429);
    await perAccount.request.post('/api/v1/auth/refresh').send({ refreshToken: 'another-guess' }).expect(401);
  });
});

describe('password reset rate limits', () => {
  it('limits reset emails per account (case-insensitively) with the same 429 for known and unknown addresses', async () => {
    const { user } = await createUser(perAccount.db, perAccount.config);
    for (const address of [user.email, email()]) {
      await perAccount.request.post('/api/v1/auth/forgot-password').send({ email: address }).expect(202);
      await perAccount.request.post('/api/v1/auth/forgot-password').send({ email: address.toUpperCase() }).expect(202);
      const res = await perAccount.request.post('/api/v1/auth/forgot-password').send({ email: address }).expect(429);
      expect(res.body.code).toBe('RATE_LIMITED');
    }
    expect(await perAccount.db.domainEvent.count({ where: { type: 'user.password_reset_requested', subjectId: user.email } })).toBe(2);
  });

  it('limits attempts per reset token', async () => {
    const body = { token: 'z'.repeat(43), newPassword: 'SecurePass123!', confirmNewPassword: 'SecurePass123!' };
    for (let i = 0; i < 2; i++) await perAccount.request.post('/api/v1/auth/reset-password').send(body).expect(400);
    await perAccount.request.post('/api/v1/auth/reset-password').send(body).expect(429);
    await perAccount.request.post('/api/v1/auth/reset-password').send({ ...body, token: 'w'.repeat(43) }).expect(400);
  });
});
