import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin, createUser, unique } from '../factories/index.js';
import { createJobsContext, type JobsContext } from '../helpers/jobs-context.js';
import { linkToken, startTestSmtp, type TestSmtp } from '../helpers/smtp.js';

let ctx: JobsContext;
let smtp: TestSmtp;
beforeAll(async () => {
  smtp = await startTestSmtp({ user: 'mailer', password: 's3cret-pass' });
  ctx = await createJobsContext({ env: { SMTP_URL: smtp.url, MAIL_FROM: 'minispod <no-reply@minispod.test>', PUBLIC_APP_URL: 'https://app.minispod.test' } });
});
afterAll(async () => {
  await ctx.close();
  await smtp.close();
});

const PASSWORD = 'SecurePass123!';
const NEW_PASSWORD = 'EvenBetter456?';
const email = () => `${unique('rec')}@example.test`;
const mailTo = async (address: string, subject: string, count = 1) => {
  await smtp.waitFor(() => smtp.to(address).filter((m) => m.subject === subject).length >= count);
  return smtp.to(address).filter((m) => m.subject === subject);
};
const register = async (address = email(), name = 'Rita Recovery') =>
  (await ctx.request.post('/api/v1/auth/register').send({ name, email: address, password: PASSWORD, confirmPassword: PASSWORD }).expect(201)).body.data as {
    user: { id: string; email: string; emailVerifiedAt: string | null };
    tokens: { accessToken: string; refreshToken: string };
  };

describe('email verification', () => {
  it('emails a verification link on register; the link verifies the address once', async () => {
    const address = email();
    const { user, tokens } = await register(address);
    expect(user.emailVerifiedAt).toBeNull();
    const [mail] = await mailTo(address, 'Confirm your email address');
    expect(mail?.from?.value).toEqual([{ name: 'minispod', address: 'no-reply@minispod.test' }]);
    expect(mail?.html).toContain('https://app.minispod.test/verify-email?token=');
    const token = linkToken(mail!, 'verify-email');

    // Login works before verification.
    await ctx.request.post('/api/v1/auth/login').send({ email: address, password: PASSWORD }).expect(200);
    const res = await ctx.request.post('/api/v1/auth/verify-email').send({ token }).expect(200);
    expect(res.body.data).toMatchObject({ id: user.id, emailVerifiedAt: expect.any(String) });
    expect((await ctx.db.user.findUniqueOrThrow({ where: { id: user.id } })).emailVerifiedAt).toBeInstanceOf(Date);
    const me = await ctx.request.get('/api/v1/auth/me').set('Authorization', `Bearer ${tokens.accessToken}`).expect(200);
    expect(me.body.data.user.emailVerifiedAt).toBe(res.body.data.emailVerifiedAt);

    const replay = await ctx.request.post('/api/v1/auth/verify-email').send({ token }).expect(400);
    expect(replay.body.errors).toEqual([expect.objectContaining({ field: 'token' })]);
  });

  it('refuses a wrong token with 400 and verifies nobody', async () => {
    const { user } = await register();
    await ctx.request.post('/api/v1/auth/verify-email').send({ token: 'x'.repeat(43) }).expect(400);
    expect((await ctx.db.user.findUniqueOrThrow({ where: { id: user.id } })).emailVerifiedAt).toBeNull();
  });

  it('resends on request at most once a minute, and not for a verified address', async () => {
    const address = email();
    const { user, tokens } = await register(address);
    const auth = `Bearer ${tokens.accessToken}`;
    // Registration sent one a moment ago.
    const early = await ctx.request.post('/api/v1/auth/resend-verification').set('Authorization', auth).expect(429);
    expect(Number(early.headers['retry-after'])).toBeGreaterThan(0);
    await ctx.db.domainEvent.updateMany({ where: { userId: user.id }, data: { occurredAt: new Date(Date.now() - 120_000) } });
    await ctx.request.post('/api/v1/auth/resend-verification').set('Authorization', auth).expect(202);
    const mails = await mailTo(address, 'Confirm your email address', 2);
    const [first, second] = mails.map((m) => linkToken(m, 'verify-email'));
    expect(second).not.toBe(first);
    // Either link works; the address is then verified.
    await ctx.request.post('/api/v1/auth/verify-email').send({ token: second }).expect(200);
    await ctx.db.domainEvent.updateMany({ where: { userId: user.id }, data: { occurredAt: new Date(Date.now() - 120_000) } });
    const done = await ctx.request.post('/api/v1/auth/resend-verification').set('Authorization', auth).expect(409);
    expect(done.body.code).toBe('CONFLICT');
  });

  it('makes a changed email unverified and sends the link to the new address', async () => {
    const { user, tokens } = await register();
    await ctx.db.user.update({ where: { id: user.id }, data: { emailVerifiedAt: new Date() } });
    const next = email();
    const res = await ctx.request.put('/api/v1/auth/profile').set('Authorization', `Bearer ${tokens.accessToken}`).send({ email: next, currentPassword: PASSWORD }).expect(200);
    expect(res.body.data.emailVerifiedAt).toBeNull();
    const [mail] = await mailTo(next, 'Confirm your email address');
    await ctx.request.post('/api/v1/auth/verify-email').send({ token: linkToken(mail!, 'verify-email') }).expect(200);
  });

  it('escapes user-supplied text in the HTML part', async () => {
    const address = email();
    await register(address, '<script>alert(1)</script>');
    const [mail] = await mailTo(address, 'Confirm your email address');
    expect(mail?.html).toContain('Hello &lt;script&gt;alert(1)&lt;/script&gt;,');
    expect(mail?.html).not.toContain('<script>');
    expect(mail?.text).toContain('Hello <script>alert(1)</script>,');
  });
});

describe('password reset', () => {
  it('forgot -> email -> reset: old sessions end, the new password signs in, the owner is told', async () => {
    const address = email();
    const { user, tokens } = await register(address);
    const forgot = await ctx.request.post('/api/v1/auth/forgot-password').send({ email: address.toUpperCase() }).expect(202);
    expect(forgot.body).toMatchObject({ success: true, data: null });
    const [mail] = await mailTo(address, 'Reset your password');
    const token = linkToken(mail!, 'reset-password');
    // Only the hash is stored.
    const rows = await ctx.db.accountToken.findMany({ where: { userId: user.id, purpose: 'RESET_PASSWORD' } });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.tokenHash).not.toContain(token);
    expect(rows[0]!.expiresAt.getTime() - rows[0]!.createdAt.getTime()).toBe(30 * 60_000);

    await ctx.request.get('/api/v1/auth/me').set('Authorization', `Bearer ${tokens.accessToken}`).expect(200);
    await ctx.request.post('/api/v1/auth/reset-password').send({ token, newPassword: NEW_PASSWORD, confirmNewPassword: NEW_PASSWORD }).expect(200);
    // Every session ends at once: its access tokens as well as its refresh tokens.
    await ctx.request.get('/api/v1/auth/me').set('Authorization', `Bearer ${tokens.accessToken}`).expect(401);
    await ctx.request.post('/api/v1/auth/refresh').send({ refreshToken: tokens.refreshToken }).expect(401);
    await ctx.request.post('/api/v1/auth/login').send({ email: address, password: PASSWORD }).expect(401);
    await ctx.request.post('/api/v1/auth/login').send({ email: address, password: NEW_PASSWORD }).expect(200);
    // Following the link proved the address too.
    expect((await ctx.db.user.findUniqueOrThrow({ where: { id: user.id } })).emailVerifiedAt).toBeInstanceOf(Date);
    const [notice] = await mailTo(address, 'Your password was changed');
    expect(notice?.text).toContain('password reset link');

    const replay = await ctx.request.post('/api/v1/auth/reset-password').send({ token, newPassword: PASSWORD, confirmNewPassword: PASSWORD }).expect(400);
    expect(replay.body.errors).toEqual([expect.objectContaining({ field: 'token' })]);
    await ctx.request.post('/api/v1/auth/login').send({ email: address, password: NEW_PASSWORD }).expect(200);
  });

  it('refuses an expired or wrong token with 400 and changes nothing', async () => {
    const address = email();
    const { user } = await register(address);
    await ctx.request.post('/api/v1/auth/forgot-password').send({ email: address }).expect(202);
    const [mail] = await mailTo(address, 'Reset your password');
    const token = linkToken(mail!, 'reset-password');
    const before = await ctx.db.user.findUniqueOrThrow({ where: { id: user.id } });
    await ctx.db.accountToken.updateMany({ where: { userId: user.id, purpose: 'RESET_PASSWORD' }, data: { expiresAt: new Date(Date.now() - 1000) } });

    for (const t of [token, `${token.slice(0, -2)}xx`]) {
      const res = await ctx.request.post('/api/v1/auth/reset-password').send({ token: t, newPassword: NEW_PASSWORD, confirmNewPassword: NEW_PASSWORD }).expect(400);
      expect(res.body.code).toBe('VALIDATION_ERROR');
    }
    const after = await ctx.db.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(after.password).toBe(before.password);
    expect(await ctx.db.accountToken.count({ where: { userId: user.id, usedAt: { not: null } } })).toBe(0);
    expect(await ctx.db.refreshToken.count({ where: { userId: user.id, revokedAt: { not: null } } })).toBe(0);
  });

  it('answers an unknown email exactly as a known one, and sends nothing', async () => {
    const known = email();
    await register(known);
    const strip = (body: Record<string, unknown>) => ({ ...body, timestamp: undefined, requestId: undefined });
    const a = await ctx.request.post('/api/v1/auth/forgot-password').send({ email: known }).expect(202);
    const unknownAddress = email();
    const b = await ctx.request.post('/api/v1/auth/forgot-password').send({ email: unknownAddress }).expect(202);
    expect(JSON.stringify(strip(b.body))).toBe(JSON.stringify(strip(a.body)));
    expect(b.headers['content-length']).toBe(a.headers['content-length']);
    await mailTo(known, 'Reset your password');
    // The unknown address's event was dispatched (it is older than the known one's mail) and made no email.
    const unknownEvent = await ctx.db.domainEvent.findFirstOrThrow({ where: { subjectId: unknownAddress } });
    await expect.poll(async () => (await ctx.db.domainEvent.findUniqueOrThrow({ where: { id: unknownEvent.id } })).dispatchedAt).not.toBeNull();
    expect(await ctx.db.emailMessage.count({ where: { eventId: unknownEvent.id } })).toBe(0);
    expect(smtp.to(unknownAddress)).toHaveLength(0);
  });

  it('validates the new password like registration does', async () => {
    const res = await ctx.request.post('/api/v1/auth/reset-password').send({ token: 'y'.repeat(43), newPassword: 'short', confirmNewPassword: 'short' }).expect(400);
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'newPassword' })]));
  });
});

describe('password changed notices', () => {
  it('tells the owner when they change it themselves, and when an administrator does', async () => {
    const { user, auth, password } = await createUser(ctx.db, ctx.config);
    await ctx.request.post('/api/v1/auth/change-password').set('Authorization', auth).send({ currentPassword: password, newPassword: NEW_PASSWORD, confirmNewPassword: NEW_PASSWORD }).expect(200);
    const [self] = await mailTo(user.email, 'Your password was changed');
    expect(self?.text).toContain('You changed it');

    const admin = await createAdmin(ctx.db, ctx.config);
    await ctx.request.patch(`/api/v1/users/${user.id}/password`).set('Authorization', admin.auth).send({ newPassword: PASSWORD }).expect(200);
    const mails = await mailTo(user.email, 'Your password was changed', 2);
    expect(mails.map((m) => m.text).join('\n')).toContain('An administrator set a new password');
  });
});

describe('GET /api/v1/admin/emails', () => {
  it('lists sent messages for administrators, filtered, and refuses users', async () => {
    const address = email();
    await register(address);
    await mailTo(address, 'Confirm your email address');
    const admin = await createAdmin(ctx.db, ctx.config);
    const { auth } = await createUser(ctx.db, ctx.config);
    await ctx.request.get('/api/v1/admin/emails').set('Authorization', auth).expect(403);
    await expect
      .poll(async () => (await ctx.request.get('/api/v1/admin/emails').query({ recipient: address }).set('Authorization', admin.auth)).body.data?.emails?.[0]?.status)
      .toBe('SENT');
    const res = await ctx.request.get('/api/v1/admin/emails').query({ recipient: address, status: 'SENT' }).set('Authorization', admin.auth).expect(200);
    expect(res.body.data.pagination.total).toBe(1);
    expect(res.body.data.emails[0]).toMatchObject({ template: 'email-verification', recipient: address, subject: 'Confirm your email address', attempts: 1, lastError: null });
    expect(JSON.stringify(res.body)).not.toContain('token=');
    await ctx.request.get('/api/v1/admin/emails').query({ status: 'BOUNCED' }).set('Authorization', admin.auth).expect(400);
  });
});
