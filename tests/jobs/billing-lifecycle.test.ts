import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobContext } from '../../src/lib/jobs.js';
import { createLogger } from '../../src/lib/logger.js';
import { transition } from '../../src/modules/subscriptions/index.js';
import { balanceOf, createAdmin, createPlan, createPool, createUser, fund, ledgerSum } from '../factories/index.js';
import { createJobsContext, type JobsContext } from '../helpers/jobs-context.js';
import { startTestSmtp, type TestSmtp } from '../helpers/smtp.js';

// The whole lifecycle with a test clock: the job handlers read this clock, so months pass in
// milliseconds. Each step asserts the rows, the ledger and the emails a real SMTP listener got.
let now = Date.now();
const clock = { now: () => new Date(now) };
let ctx: JobsContext;
let smtp: TestSmtp;
beforeAll(async () => {
  smtp = await startTestSmtp();
  ctx = await createJobsContext({ env: { SMTP_URL: smtp.url, LOG_LEVEL: 'silent' }, clock });
});
afterAll(async () => {
  await ctx.close();
  await smtp.close();
});

const PRICE = 15000;
const DAY = 86_400_000;

/** Runs a queue's handler as the runner would, with the test clock. */
async function runJob(name: string, data: object = {}) {
  const spec = ctx.runner.queues.find((q) => q.name === name);
  if (!spec) throw new Error(`no queue ${name}`);
  const jobCtx: JobContext = { clock, logger: createLogger(ctx.config), jobId: `test-${name}`, retryCount: 0, lastAttempt: false };
  return spec.handler(data, jobCtx);
}

const subject = (email: string, text: string) => smtp.waitFor(() => smtp.to(email).some((m) => m.subject?.includes(text)));
const row = (id: string) => ctx.db.subscription.findUniqueOrThrow({ where: { id } });

describe('the subscription lifecycle', () => {
  it('subscribe -> renew -> renewal fails -> PAST_DUE -> SUSPENDED -> credit -> ACTIVE -> cancel at period end -> CANCELLED -> EXPIRED', async () => {
    const pool = await createPool(ctx.db);
    const plan = await createPlan(ctx.db, pool, { displayName: 'Lifecycle App', monthlyPrice: PRICE });
    const { user, auth } = await createUser(ctx.db, ctx.config);
    const admin = await createAdmin(ctx.db, ctx.config);
    await fund(ctx.db, user.id, 2 * PRICE);
    const ledgerOk = async () => expect(await ledgerSum(ctx.db, user.id)).toBe(await balanceOf(ctx.db, user.id));

    // Subscribe: the first month is charged, the receipt names its transaction.
    const created = await ctx.request.post('/api/v1/subscriptions').set('Authorization', auth).send({ serviceId: plan.id }).expect(201);
    const id = created.body.data.id as string;
    const first = await ctx.db.transaction.findFirstOrThrow({ where: { subscriptionId: id, type: 'CHARGE' } });
    await subject(user.email, 'Your Lifecycle App subscription');
    expect(smtp.to(user.email).find((m) => m.subject?.includes('subscription'))?.text).toContain(first.number);

    // The instance runs (the instances module does this): ACTIVE.
    await ctx.db.$transaction((tx) => transition(tx, id, 'activate', { now: new Date() }));
    expect((await row(id)).status).toBe('ACTIVE');

    // Period end: renewed from the wallet.
    let sub = await row(id);
    now = sub.currentPeriodEnd.getTime() + 60_000;
    await runJob('billing.renew');
    sub = await row(id);
    expect(sub.status).toBe('ACTIVE');
    expect(sub.currentPeriodStart.getTime()).toBe(now - 60_000);
    expect(await balanceOf(ctx.db, user.id)).toBe(0);
    await subject(user.email, 'Lifecycle App renewed');
    await ledgerOk();

    // Next period end: the wallet is empty, PAST_DUE with a grace period; the app keeps running.
    const secondEnd = sub.currentPeriodEnd;
    now = secondEnd.getTime() + 60_000;
    await runJob('billing.renew');
    sub = await row(id);
    expect(sub).toMatchObject({ status: 'PAST_DUE', graceEndsAt: new Date(secondEnd.getTime() + 3 * DAY) });
    await subject(user.email, 'Payment for Lifecycle App failed');
    // An hourly retry inside the grace period changes nothing.
    await runJob('billing.dunning');
    expect((await row(id)).status).toBe('PAST_DUE');

    // The grace ends: SUSPENDED for non-payment, deletion date announced.
    now = secondEnd.getTime() + 3 * DAY + 60_000;
    await runJob('billing.dunning');
    sub = await row(id);
    expect(sub).toMatchObject({ status: 'SUSPENDED', suspendedBy: 'BILLING' });
    await subject(user.email, 'Lifecycle App is suspended');
    expect(await ctx.db.transaction.count({ where: { subscriptionId: id, type: 'CHARGE' } })).toBe(2);

    // A credit retries it at once (the dunning job the credit queues runs on the runner, with this clock).
    await ctx.request.post(`/api/v1/admin/users/${user.id}/wallet/topup`).set('Authorization', admin.auth).send({ amount: PRICE, reference: 'lifecycle-1' }).expect(201);
    await expect.poll(async () => (await row(id)).status, { timeout: 15_000 }).toBe('ACTIVE');
    sub = await row(id);
    expect(sub.currentPeriodStart.getTime()).toBe(now);
    expect(sub.suspendedAt).toBeNull();
    expect(await balanceOf(ctx.db, user.id)).toBe(0);
    await subject(user.email, 'Your wallet was credited');
    await subject(user.email, 'Lifecycle App is back');
    await ledgerOk();

    // Cancel at the period's end: it keeps running until then, then CANCELLED.
    await ctx.request.post(`/api/v1/subscriptions/${id}/cancel`).set('Authorization', auth).send({}).expect(200);
    await subject(user.email, 'Lifecycle App will end on');
    now = sub.currentPeriodEnd.getTime() + 60_000;
    await runJob('billing.renew');
    sub = await row(id);
    expect(sub.status).toBe('CANCELLED');
    expect(await ctx.db.transaction.count({ where: { subscriptionId: id, type: 'CHARGE' } })).toBe(3);
    await subject(user.email, 'Lifecycle App is cancelled');

    // After the retention period: EXPIRED.
    now = (sub.endedAt as Date).getTime() + 13 * DAY;
    await runJob('subscription.expire');
    expect((await row(id)).status).toBe('CANCELLED');
    now = (sub.endedAt as Date).getTime() + 14 * DAY + 60_000;
    await runJob('subscription.expire');
    expect((await row(id)).status).toBe('EXPIRED');
    await subject(user.email, 'Lifecycle App has ended');
    await ledgerOk();

    // The API's requests ran on the real clock, the jobs on the test clock: compared as a set.
    const events = (await ctx.db.domainEvent.findMany({ where: { subjectId: id } })).map((e) => e.type).sort();
    expect(events).toEqual([
      'subscription.created',
      'subscription.activated',
      'subscription.renewed',
      'subscription.past_due',
      'subscription.suspended',
      'subscription.resumed',
      'subscription.cancel_scheduled',
      'subscription.cancelled',
      'subscription.expired',
    ].sort());
  });

  it('warns once per period when the wallet is short of the coming renewal', async () => {
    const pool = await createPool(ctx.db);
    const plan = await createPlan(ctx.db, pool, { displayName: 'Notice App', monthlyPrice: PRICE });
    const { user, auth } = await createUser(ctx.db, ctx.config);
    await fund(ctx.db, user.id, PRICE + 5000);
    const { body } = await ctx.request.post('/api/v1/subscriptions').set('Authorization', auth).send({ serviceId: plan.id }).expect(201);
    await ctx.db.subscription.update({ where: { id: body.data.id }, data: { status: 'ACTIVE' } });
    const sub = await row(body.data.id);
    now = sub.currentPeriodEnd.getTime() - 2 * DAY;
    await runJob('notify.renewal-upcoming');
    await runJob('notify.renewal-upcoming');
    await subject(user.email, 'Top up before Notice App renews');
    const mail = smtp.to(user.email).filter((m) => m.subject?.startsWith('Top up before'));
    expect(mail).toHaveLength(1);
    expect(mail[0]?.text).toMatch(/at least Rp\s?10\.000/);
    expect(await ctx.db.domainEvent.count({ where: { subjectId: sub.id, type: 'subscription.renewal_upcoming' } })).toBe(1);
  });
});
