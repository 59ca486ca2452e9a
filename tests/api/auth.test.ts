import bcrypt from 'bcrypt';
import { afterAll, describe, expect, it } from 'vitest';
import { createAdmin, createUser, DEFAULT_PASSWORD, unique } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';

const ctx = createTestContext();
const { request, db, config } = ctx;
afterAll(() => ctx.close());

const email = () => `${unique('auth')}@example.test`;
const PASSWORD = 'SecurePass123!';
const registerBody = (overrides: Record<string, unknown> = {}) => ({ name: 'John Doe', email: email(), password: PASSWORD, confirmPassword: PASSWORD, ...overrides });

describe('POST /api/v1/auth/register', () => {
  it('creates a USER, stores a bcrypt hash and returns the user with tokens', async () => {
    const body = registerBody({ email: `  ${unique('Mixed')}@Example.TEST ` });
    const res = await request.post('/api/v1/auth/register').send(body).expect(201);
    expect(res.body).toMatchObject({ success: true, statusCode: 201 });
    const { user, tokens } = res.body.data;
    expect(user).toMatchObject({ name: 'John Doe', email: body.email.trim().toLowerCase(), role: 'USER', isActive: true });
    expect(user).not.toHaveProperty('password');
    expect(tokens).toMatchObject({ tokenType: 'Bearer', expiresIn: config.jwt.accessTtlSeconds });
    expect(typeof tokens.accessToken).toBe('string');
    expect(typeof tokens.refreshToken).toBe('string');

    const row = await db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(row.email).toBe(body.email.trim().toLowerCase());
    expect(await bcrypt.compare(PASSWORD, row.password)).toBe(true);
    expect(await db.refreshToken.count({ where: { userId: user.id } })).toBe(1);
    await request.get('/api/v1/auth/me').set('Authorization', `Bearer ${tokens.accessToken}`).expect(200);
  });

  it('refuses a role in the body with 400 naming the key, and creates nobody', async () => {
    const body = registerBody({ role: 'ADMINISTRATOR' });
    const res = await request.post('/api/v1/auth/register').send(body).expect(400);
    expect(res.body.code).toBe('VALIDATION_ERROR');
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'role' })]));
    expect(await db.user.count({ where: { email: body.email } })).toBe(0);
  });

  it('answers a taken email (in any case) with 201 as for a new one, and creates or changes nothing', async () => {
    const { user } = await createUser(db, config);
    const res = await request.post('/api/v1/auth/register').send(registerBody({ email: user.email.toUpperCase() })).expect(201);
    expect(res.body.data.user).toMatchObject({ email: user.email, role: 'USER', isActive: true });
    expect(res.body.data.user.id).not.toBe(user.id);
    expect(await db.user.count({ where: { email: user.email } })).toBe(1);
    expect(await db.user.findUnique({ where: { id: res.body.data.user.id } })).toBeNull();
    expect(await db.user.findUniqueOrThrow({ where: { id: user.id } })).toEqual(user);
    expect(await db.refreshToken.count({ where: { userId: user.id } })).toBe(0);
    // The full contract (the same form as a new account's answer, the owner's email) is in auth-registration.test.ts.
  });

  it.each([
    ['too short', 'Ab1!xyz'],
    ['no upper-case letter', 'securepass123!'],
    ['no lower-case letter', 'SECUREPASS123!'],
    ['no digit', 'SecurePass!!'],
    ['no other character', 'SecurePass123'],
    ['more than 72 bytes', `Aa1!${'x'.repeat(69)}`],
    ['more than 72 bytes of multi-byte characters', `Aa1!${'é'.repeat(35)}`],
  ])('rejects a password with %s', async (_case, password) => {
    const body = registerBody({ password, confirmPassword: password });
    const res = await request.post('/api/v1/auth/register').send(body).expect(400);
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'password' })]));
    expect(await db.user.count({ where: { email: body.email } })).toBe(0);
  });

  it('accepts a password of exactly 72 bytes', async () => {
    const password = `Aa1!${'x'.repeat(68)}`;
    await request.post('/api/v1/auth/register').send(registerBody({ password, confirmPassword: password })).expect(201);
  });

  it('rejects a confirmPassword that does not match', async () => {
    const res = await request.post('/api/v1/auth/register').send(registerBody({ confirmPassword: 'Different123!' })).expect(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'confirmPassword' })]);
  });

  it('rejects an invalid email and a missing name', async () => {
    const res = await request.post('/api/v1/auth/register').send(registerBody({ email: 'not-an-email', name: undefined })).expect(400);
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['email', 'name']);
  });
});

describe('POST /api/v1/auth/login', () => {
  it('signs in case-insensitively and records the login', async () => {
    const { user, password } = await createUser(db, config);
    const res = await request.post('/api/v1/auth/login').send({ email: ` ${user.email.toUpperCase()} `, password }).expect(200);
    expect(res.body.data.user).toMatchObject({ id: user.id, email: user.email, name: user.name, role: 'USER', isActive: true });
    expect(res.body.data.user).not.toHaveProperty('password');
    expect(res.body.data.tokens.accessToken).toEqual(expect.any(String));
    expect(res.body.data.tokens.refreshToken).toEqual(expect.any(String));
    const row = await db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(row.lastLoginAt).not.toBeNull();
  });

  it('answers an unknown email and a wrong password with the same 401', async () => {
    const { user } = await createUser(db, config);
    const wrong = await request.post('/api/v1/auth/login').send({ email: user.email, password: 'Wrong123!x' }).expect(401);
    const unknown = await request.post('/api/v1/auth/login').send({ email: email(), password: 'Wrong123!x' }).expect(401);
    expect(wrong.body.code).toBe('INVALID_CREDENTIALS');
    expect(unknown.body.code).toBe('INVALID_CREDENTIALS');
    expect(wrong.body.message).toBe(unknown.body.message);
  });

  it('refuses a deactivated account with 403 only when the password matches', async () => {
    const { user, password } = await createUser(db, config, { isActive: false });
    const bad = await request.post('/api/v1/auth/login').send({ email: user.email, password: 'Wrong123!x' }).expect(401);
    expect(bad.body.code).toBe('INVALID_CREDENTIALS');
    const good = await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(403);
    expect(good.body.code).toBe('ACCOUNT_DISABLED');
    expect(await db.refreshToken.count({ where: { userId: user.id } })).toBe(0);
  });

  it('does not accept a password that only matches after bcrypt truncation', async () => {
    const password = `Aa1!${'x'.repeat(68)}`;
    const { user } = await createUser(db, config, { password });
    await request.post('/api/v1/auth/login').send({ email: user.email, password: `${password}extra` }).expect(401);
    await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200);
  });

  it('rehashes a password stored with another bcrypt cost', async () => {
    const { user, password } = await createUser(db, config);
    await db.user.update({ where: { id: user.id }, data: { password: await bcrypt.hash(password, 5) } });
    await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200);
    const row = await db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(bcrypt.getRounds(row.password)).toBe(config.bcryptCost);
    // A new hash is an edit of the account, unlike the login itself.
    expect(row.updatedAt.getTime()).toBe(row.lastLoginAt?.getTime());
  });
});

describe('GET /api/v1/auth/me and /profile', () => {
  it('returns the current user, and the profile with its subscription count', async () => {
    const { user, auth } = await createUser(db, config);
    const me = await request.get('/api/v1/auth/me').set('Authorization', auth).expect(200);
    expect(me.body.data).toMatchObject({ authenticated: true, user: { id: user.id, email: user.email } });
    const profile = await request.get('/api/v1/auth/profile').set('Authorization', auth).expect(200);
    expect(profile.body.data).toMatchObject({ id: user.id, email: user.email, _count: { subscriptions: 0 } });
    expect(profile.body.data).not.toHaveProperty('password');
  });

  it('rejects a missing token with 401', async () => {
    const res = await request.get('/api/v1/auth/profile').expect(401);
    expect(res.body.success).toBe(false);
  });
});

describe('PUT /api/v1/auth/profile', () => {
  it('updates name and normalized email', async () => {
    const { user, auth } = await createUser(db, config);
    const next = `${unique('New')}@Example.test`;
    const res = await request.put('/api/v1/auth/profile').set('Authorization', auth).send({ name: '  Jane  ', email: next, currentPassword: DEFAULT_PASSWORD }).expect(200);
    expect(res.body.data).toMatchObject({ id: user.id, name: 'Jane', email: next.toLowerCase() });
    expect(await db.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({ name: 'Jane', email: next.toLowerCase() });
  });

  it('refuses role and isActive with 400 and changes nothing', async () => {
    const { user, auth } = await createUser(db, config);
    const res = await request.put('/api/v1/auth/profile').set('Authorization', auth).send({ name: 'Evil', role: 'ADMINISTRATOR' }).expect(400);
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'role' })]));
    expect(await db.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({ name: user.name, role: 'USER' });
  });

  it('refuses an email taken by another account with 409', async () => {
    const other = await createUser(db, config);
    const { auth, password } = await createUser(db, config);
    await request.put('/api/v1/auth/profile').set('Authorization', auth).send({ email: other.user.email.toUpperCase(), currentPassword: password }).expect(409);
  });

  it('takes the current password to change the email: 400 without it or when wrong, and nothing changes', async () => {
    const { user, auth, password } = await createUser(db, config);
    const next = `${unique('moved')}@example.test`;
    const missing = await request.put('/api/v1/auth/profile').set('Authorization', auth).send({ email: next }).expect(400);
    expect(missing.body.errors).toEqual([expect.objectContaining({ field: 'currentPassword' })]);
    const wrong = await request.put('/api/v1/auth/profile').set('Authorization', auth).send({ name: 'Moved', email: next, currentPassword: 'Wrong123!x' }).expect(400);
    expect(wrong.body.errors).toEqual([expect.objectContaining({ field: 'currentPassword' })]);
    expect(await db.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({ email: user.email, name: user.name });
    expect(await db.domainEvent.count({ where: { userId: user.id, type: 'user.email_changed' } })).toBe(0);

    // Not needed for a name, nor for the email the account already has.
    await request.put('/api/v1/auth/profile').set('Authorization', auth).send({ name: 'Kept Email', email: user.email }).expect(200);
    await request.put('/api/v1/auth/profile').set('Authorization', auth).send({ email: next, currentPassword: password }).expect(200);
    expect(await db.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({ email: next, name: 'Kept Email' });
  });

  it('refuses an empty body with 400', async () => {
    const { auth } = await createUser(db, config);
    await request.put('/api/v1/auth/profile').set('Authorization', auth).send({}).expect(400);
  });
});

describe('POST /api/v1/auth/change-password', () => {
  const NEW = 'BrandNew456$';

  it('changes the password, revokes every older session and returns new tokens', async () => {
    const { user, password } = await createUser(db, config);
    const first = await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200);
    const second = await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200);
    const res = await request
      .post('/api/v1/auth/change-password')
      .set('Authorization', `Bearer ${first.body.data.tokens.accessToken}`)
      .send({ currentPassword: password, newPassword: NEW, confirmNewPassword: NEW })
      .expect(200);
    expect(res.body.data.tokens.refreshToken).toEqual(expect.any(String));

    await request.post('/api/v1/auth/refresh').send({ refreshToken: second.body.data.tokens.refreshToken }).expect(401);
    await request.post('/api/v1/auth/refresh').send({ refreshToken: res.body.data.tokens.refreshToken }).expect(200);
    await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(401);
    await request.post('/api/v1/auth/login').send({ email: user.email, password: NEW }).expect(200);
    const row = await db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(await bcrypt.compare(NEW, row.password)).toBe(true);
  });

  it('refuses a wrong current password with 400 and keeps the old password', async () => {
    const { user, auth, password } = await createUser(db, config);
    const res = await request.post('/api/v1/auth/change-password').set('Authorization', auth).send({ currentPassword: 'Nope123!x', newPassword: NEW, confirmNewPassword: NEW }).expect(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'currentPassword' })]);
    expect(await bcrypt.compare(password, (await db.user.findUniqueOrThrow({ where: { id: user.id } })).password)).toBe(true);
  });

  it('refuses a weak or unconfirmed new password with 400', async () => {
    const { auth, password } = await createUser(db, config);
    await request.post('/api/v1/auth/change-password').set('Authorization', auth).send({ currentPassword: password, newPassword: 'weak', confirmNewPassword: 'weak' }).expect(400);
    const res = await request.post('/api/v1/auth/change-password').set('Authorization', auth).send({ currentPassword: password, newPassword: NEW, confirmNewPassword: 'Other456$x' }).expect(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ field: 'confirmNewPassword' })]);
  });
});

describe('DELETE /api/v1/auth/account', () => {
  it('deactivates the account, locks out its access token at once and revokes its sessions', async () => {
    const { user, password } = await createUser(db, config);
    const login = await request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200);
    const auth = `Bearer ${login.body.data.tokens.accessToken}`;
    await request.delete('/api/v1/auth/account').set('Authorization', auth).expect(200);

    expect((await db.user.findUniqueOrThrow({ where: { id: user.id } })).isActive).toBe(false);
    await request.get('/api/v1/auth/me').set('Authorization', auth).expect(401);
    await request.post('/api/v1/auth/refresh').send({ refreshToken: login.body.data.tokens.refreshToken }).expect(401);
    expect(await db.refreshToken.count({ where: { userId: user.id, revokedAt: null } })).toBe(0);
  });

  it('refuses an administrator (403), even while other administrators remain, and changes nothing', async () => {
    await createAdmin(db, config);
    const { user, auth } = await createAdmin(db, config);
    const res = await request.delete('/api/v1/auth/account').set('Authorization', auth).expect(403);
    expect(res.body.code).toBe('FORBIDDEN');
    expect(await db.user.findUniqueOrThrow({ where: { id: user.id } })).toMatchObject({ isActive: true, tokenVersion: 0 });
    await request.get('/api/v1/auth/me').set('Authorization', auth).expect(200);
  });
});
