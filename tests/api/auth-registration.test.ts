import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin, createUser, unique } from '../factories/index.js';
import { createJobsContext, type JobsContext } from '../helpers/jobs-context.js';
import { startTestSmtp, type TestSmtp } from '../helpers/smtp.js';

let ctx: JobsContext;
let smtp: TestSmtp;
beforeAll(async () => {
  smtp = await startTestSmtp();
  ctx = await createJobsContext({ env: { SMTP_URL: smtp.url, PUBLIC_APP_URL: 'https://app.minispod.test' } });
});
afterAll(async () => {
  await ctx.close();
  await smtp.close();
});

const PASSWORD = 'SecurePass123!';
const ATTEMPT_SUBJECT = 'Someone tried to create an account with your email address';
const email = () => `${unique('reg')}@example.test`;
const register = (address: string, name = 'Rita Register') => ctx.request.post('/api/v1/auth/register').send({ name, email: address, password: PASSWORD, confirmPassword: PASSWORD });

/** The answer with what differs between any two answers (ids, tokens, times) replaced by its form. */
function form(body: Record<string, unknown>): unknown {
  return JSON.parse(JSON.stringify(body), (key, value: unknown) => {
    if (typeof value !== 'string') return value;
    if (key === 'id') return `id:${value.length}:${/^c[a-z0-9]{24}$/.test(value)}`;
    if (key === 'accessToken') return `jwt:${value.split('.').length}`;
    if (key === 'refreshToken') return `token:${value.length}`;
    if (key === 'timestamp' || key === 'createdAt' || key === 'updatedAt' || key === 'requestId') return `time`;
    return value;
  });
}

describe('POST /api/v1/auth/register with an address that has an account', () => {
  it('answers exactly as for a new account, creates and changes nothing, and emails the owner instead', async () => {
    const { user } = await createUser(ctx.db, ctx.config, { name: 'Olga Owner' });
    const fresh = await register(email()).expect(201);
    const taken = await register(user.email.toUpperCase()).expect(201);

    // The same status, message, fields and field forms: nothing tells the two apart.
    expect(taken.body.message).toBe(fresh.body.message);
    expect(form({ ...taken.body, data: { ...taken.body.data, user: { ...taken.body.data.user, email: 'x' } } })).toEqual(
      form({ ...fresh.body, data: { ...fresh.body.data, user: { ...fresh.body.data.user, email: 'x' } } }),
    );
    expect(taken.body.data.user).toMatchObject({ name: 'Rita Register', email: user.email, role: 'USER', isActive: true, emailVerifiedAt: null, lastLoginAt: null });

    // Nothing was created, and the owner's account is untouched.
    expect(await ctx.db.user.count({ where: { email: user.email } })).toBe(1);
    expect(await ctx.db.user.findUnique({ where: { id: taken.body.data.user.id } })).toBeNull();
    expect(await ctx.db.user.findUniqueOrThrow({ where: { id: user.id } })).toEqual(user);
    expect(await ctx.db.refreshToken.count({ where: { userId: user.id } })).toBe(0);

    // The owner is told, and gets no verification email.
    await smtp.waitFor(() => smtp.to(user.email).some((m) => m.subject === ATTEMPT_SUBJECT));
    const [mail, ...more] = smtp.to(user.email);
    expect(more).toHaveLength(0);
    expect(mail?.subject).toBe(ATTEMPT_SUBJECT);
    expect(mail?.text).toContain('Hello Olga Owner,');
    expect(mail?.text).toContain('no new account was created');
    expect(mail?.text).toContain('https://app.minispod.test/forgot-password');
  });

  it('grants nothing: its tokens work nowhere, and the password it was sent does not sign in', async () => {
    const { user, password } = await createUser(ctx.db, ctx.config);
    const { tokens } = (await register(user.email).expect(201)).body.data as { tokens: { accessToken: string; refreshToken: string } };
    await ctx.request.get('/api/v1/auth/me').set('Authorization', `Bearer ${tokens.accessToken}`).expect(401);
    await ctx.request.put('/api/v1/auth/profile').set('Authorization', `Bearer ${tokens.accessToken}`).send({ name: 'Hijacker' }).expect(401);
    await ctx.request.post('/api/v1/auth/refresh').send({ refreshToken: tokens.refreshToken }).expect(401);
    await ctx.request.post('/api/v1/auth/login').send({ email: user.email, password: PASSWORD }).expect(401);
    await ctx.request.post('/api/v1/auth/login').send({ email: user.email, password }).expect(200);
    expect((await ctx.db.user.findUniqueOrThrow({ where: { id: user.id } })).name).toBe(user.name);
  });

  it('tells nobody when the account behind the address is deactivated', async () => {
    const { user } = await createUser(ctx.db, ctx.config, { isActive: false });
    await register(user.email).expect(201);
    const event = await ctx.db.domainEvent.findFirstOrThrow({ where: { type: 'user.registration_attempted', subjectId: user.email } });
    await expect.poll(async () => (await ctx.db.domainEvent.findUniqueOrThrow({ where: { id: event.id } })).dispatchedAt).not.toBeNull();
    expect(await ctx.db.emailMessage.count({ where: { eventId: event.id } })).toBe(0);
  });

  it('keeps 409 for administrators creating users (POST /users)', async () => {
    const admin = await createAdmin(ctx.db, ctx.config);
    const { user } = await createUser(ctx.db, ctx.config);
    const res = await ctx.request.post('/api/v1/users').set('Authorization', admin.auth).send({ name: 'Dup Licate', email: user.email, password: PASSWORD }).expect(409);
    expect(res.body.code).toBe('CONFLICT');
  });
});
