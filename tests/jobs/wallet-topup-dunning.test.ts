import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transition } from '../../src/modules/subscriptions/index.js';
import { balanceOf, createPlan, createPool, createUser, fund, ledgerSum } from '../factories/index.js';
import { createJobsContext, type JobsContext } from '../helpers/jobs-context.js';
import { startMidtransDouble, type MidtransDouble } from '../helpers/midtrans-double.js';

// A Midtrans top-up with the real job runner: the credit's after-commit work (the outbox dispatch
// and the user's dunning retry) runs on it, as in production.
let ctx: JobsContext;
let midtrans: MidtransDouble;
beforeAll(async () => {
  midtrans = await startMidtransDouble();
  ctx = await createJobsContext({ env: midtrans.env });
});
afterAll(async () => {
  await ctx.close();
  await midtrans.close();
});

const PRICE = 15000;
const HOUR = 3_600_000;

describe('a Midtrans top-up and overdue subscriptions', () => {
  it('retries a PAST_DUE subscription as soon as the payment is credited', async () => {
    const pool = await createPool(ctx.db);
    const plan = await createPlan(ctx.db, pool, { monthlyPrice: PRICE });
    const { user, auth } = await createUser(ctx.db, ctx.config);
    await fund(ctx.db, user.id, PRICE);
    const created = await ctx.request.post('/api/v1/subscriptions').set('Authorization', auth).send({ serviceId: plan.id }).expect(201);
    const id = created.body.data.id as string;
    await ctx.db.$transaction((tx) => transition(tx, id, 'activate', { now: new Date() }));
    // Its period ended an hour ago with an empty wallet: PAST_DUE, inside the grace period.
    const periodEnd = new Date(Date.now() - HOUR);
    await ctx.db.subscription.update({ where: { id }, data: { status: 'PAST_DUE', currentPeriodEnd: periodEnd, graceEndsAt: new Date(Date.now() + 48 * HOUR) } });
    expect(await balanceOf(ctx.db, user.id)).toBe(0);

    const topup = await ctx.request.post('/api/v1/wallet/topups').set('Authorization', auth).send({ amount: 50_000 }).expect(201);
    const { orderId } = topup.body.data.payment;
    midtrans.setStatus(orderId, 'settlement');
    const res = await ctx.request.post('/api/v1/payments/midtrans/notifications').send(midtrans.notification(orderId)).expect(200);
    expect(res.body.data.result).toBe('credited');

    // No hourly run is needed: the credit queued billing.dunning for this user.
    await expect.poll(async () => (await ctx.db.subscription.findUniqueOrThrow({ where: { id } })).status, { timeout: 15_000 }).toBe('ACTIVE');
    const sub = await ctx.db.subscription.findUniqueOrThrow({ where: { id } });
    expect(sub.currentPeriodStart).toEqual(periodEnd);
    expect(sub.graceEndsAt).toBeNull();
    const charges = await ctx.db.transaction.findMany({ where: { subscriptionId: id, type: 'CHARGE' }, orderBy: { createdAt: 'asc' } });
    expect(charges.map((c) => c.amount)).toEqual([-PRICE, -PRICE]);
    expect(await balanceOf(ctx.db, user.id)).toBe(50_000 - PRICE);
    expect(await ledgerSum(ctx.db, user.id)).toBe(50_000 - PRICE);
    // The wallet.credited event left the outbox (its email and webhooks go from there).
    const topupId = topup.body.data.transaction.id as string;
    await expect.poll(async () => (await ctx.db.domainEvent.findFirstOrThrow({ where: { type: 'wallet.credited', subjectId: topupId } })).dispatchedAt, { timeout: 15_000 }).not.toBeNull();
  });
});
