import { afterAll, describe, expect, it } from 'vitest';
import { balanceOf, createAdmin, createPlan, createPool, createService, createUser, fund, ledgerSum } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';

const ctx = createTestContext();
const { request, db, config } = ctx;
afterAll(() => ctx.close());

const PRICE = 15000;

async function customer(balance = 100_000) {
  const u = await createUser(db, config);
  await fund(db, u.user.id, balance);
  return u;
}

async function setup(balance = 100_000, serviceOverrides = {}) {
  const pool = await createPool(db);
  const service = await createPlan(db, pool, serviceOverrides);
  const u = await customer(balance);
  return { pool, service, ...u };
}

const subscribe = (auth: string, serviceId: string, key?: string) => {
  const req = request.post('/api/v1/subscriptions').set('Authorization', auth);
  if (key) req.set('Idempotency-Key', key);
  return req.send({ serviceId });
};

describe('POST /api/v1/subscriptions', () => {
  it('charges the first month, creates the subscription and its PENDING instance, and records the event', async () => {
    const { service, user, auth } = await setup();
    const res = await subscribe(auth, service.id).expect(201);
    const sub = res.body.data;
    expect(sub).toMatchObject({ status: 'PENDING', serviceId: service.id, priceAmount: PRICE, currency: 'IDR', cancelAtPeriodEnd: false, service: { id: service.id, slug: service.slug } });
    expect(sub.instance).toMatchObject({ status: 'PENDING', namespace: expect.stringMatching(/^msp-[a-z0-9]{10}$/), host: expect.stringMatching(new RegExp(`-[a-z0-9]{10}\\.${config.appsDomain}$`)) });
    expect(new Date(sub.currentPeriodEnd).getTime()).toBeGreaterThan(new Date(sub.currentPeriodStart).getTime() + 27 * 86_400_000);
    expect(sub).not.toHaveProperty('idempotencyKey');

    expect(await balanceOf(db, user.id)).toBe(100_000 - PRICE);
    const [charge] = await db.transaction.findMany({ where: { subscriptionId: sub.id } });
    expect(charge).toMatchObject({ type: 'CHARGE', status: 'SUCCEEDED', amount: -PRICE, balanceAfter: 100_000 - PRICE, number: expect.stringMatching(/^TRX-\d{6}-\d{6}$/) });
    expect(await db.domainEvent.findFirst({ where: { subjectId: sub.id, type: 'subscription.created' } })).toMatchObject({ userId: user.id, data: expect.objectContaining({ transactionNumber: charge?.number }) });
    expect(await ledgerSum(db, user.id)).toBe(await balanceOf(db, user.id));
  });

  it('refuses what cannot be bought and changes nothing', async () => {
    const { pool, auth, user } = await setup(10_000);
    const noImage = await createPlan(db, pool, { dockerImage: null });
    const noPort = await createPlan(db, pool, { containerPort: null });
    const dear = await createPlan(db, pool, { monthlyPrice: 50_000 });
    const elsewhere = await createService(db, { nodeSelector: { 'minispod.test/pool': 'no-such-pool' }, monthlyPrice: 1000 });
    const inactive = await createPlan(db, pool, { status: 'INACTIVE', monthlyPrice: 1000 });

    expect((await subscribe(auth, noImage.id).expect(422)).body.code).toBe('SERVICE_NOT_DEPLOYABLE');
    expect((await subscribe(auth, noPort.id).expect(422)).body.code).toBe('SERVICE_NOT_DEPLOYABLE');
    const poor = await subscribe(auth, dear.id).expect(402);
    expect(poor.body).toMatchObject({ code: 'INSUFFICIENT_BALANCE', statusCode: 402 });
    expect((await subscribe(auth, elsewhere.id).expect(409)).body.code).toBe('NO_CAPACITY');
    await subscribe(auth, inactive.id).expect(404);
    await subscribe(auth, 'no-such-service').expect(404);
    await request.post('/api/v1/subscriptions').set('Authorization', auth).send({ serviceId: dear.id, userId: 'someone-else' }).expect(400);

    expect(await db.subscription.count({ where: { userId: user.id } })).toBe(0);
    expect(await balanceOf(db, user.id)).toBe(10_000);
    expect(await db.transaction.count({ where: { userId: user.id, type: 'CHARGE' } })).toBe(0);
  });

  it('admits only where the nodeSelector matches and the NoSchedule taints are tolerated', async () => {
    const pool = await createPool(db);
    const gpu = { key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' };
    await db.workerNode.updateMany({ where: { id: pool.nodes[0]?.node.id }, data: { taints: [gpu] } });
    const plain = await createPlan(db, pool);
    const tolerant = await createPlan(db, pool, { tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] });
    const wrongValue = await createPlan(db, pool, { tolerations: [{ key: 'nvidia.com/gpu', operator: 'Equal', value: 'false' }] });
    const u = await customer();
    expect((await subscribe(u.auth, plain.id).expect(409)).body.code).toBe('NO_CAPACITY');
    expect((await subscribe(u.auth, wrongValue.id).expect(409)).body.code).toBe('NO_CAPACITY');
    await subscribe(u.auth, tolerant.id).expect(201);
    // A node that stops being ready takes its room with it.
    await db.workerNode.updateMany({ where: { id: pool.nodes[0]?.node.id }, data: { isReady: false } });
    const again = await createPlan(db, pool, { tolerations: [{ operator: 'Exists' }] });
    expect((await subscribe(u.auth, again.id).expect(409)).body.code).toBe('NO_CAPACITY');
  });

  it('reads as many nodes of a large fleet as it takes to cover what waiting instances owe, and refuses past the whole fleet', async () => {
    const pool = await createPool(db, 0);
    // 600 nodes with 500m free each: 250,000m in the first 500, 300,000m in all.
    await db.$executeRawUnsafe(
      `INSERT INTO worker_nodes (id, name, hostname, "ipAddress", "cpuArchitecture", architecture, "operatingSystem", "cpuCores", "allocatedCPU", "totalMemory", "totalStorage", status, "isReady", "isSchedulable", labels, "updatedAt")
       SELECT $1 || i, $1 || i, $1 || i || '.test', '10.9.0.1', 'amd64', 'x86_64', 'linux', 1, 0.5, 4096, 10240, 'ACTIVE', true, true, $2::jsonb, now() FROM generate_series(1, 600) i`,
      `fleet-${pool.selector['minispod.test/pool']}-`,
      JSON.stringify(pool.selector),
    );
    const plan = await createPlan(db, pool, { cpuRequest: '500m', cpuLimit: '500m', memRequest: '64Mi', memLimit: '64Mi' });
    const waiting = await customer();
    const first = (await subscribe(waiting.auth, plan.id).expect(201)).body.data;
    const owe = (millis: number) => db.serviceInstance.update({ where: { id: first.instance.id }, data: { cpuRequestMillis: millis } });
    const second = await createPlan(db, pool, { cpuRequest: '500m', cpuLimit: '500m', memRequest: '64Mi', memLimit: '64Mi' });
    const u = await customer();

    await owe(299_500); // with the new 500m: exactly the fleet's 300,000m
    const admitted = await subscribe(u.auth, second.id).expect(201);
    await db.subscription.update({ where: { id: admitted.body.data.id }, data: { status: 'CANCELLED' } });
    await db.serviceInstance.update({ where: { id: admitted.body.data.instance.id }, data: { status: 'DELETED' } });

    await owe(299_501);
    expect((await subscribe(u.auth, second.id).expect(409)).body.code).toBe('NO_CAPACITY');
    expect(await db.subscription.count({ where: { userId: u.user.id, status: 'PENDING' } })).toBe(0);
  });

  it('refuses a second live subscription to the same service (409 ALREADY_SUBSCRIBED) and a sold-out service (409 SOLD_OUT)', async () => {
    const { pool, service, auth } = await setup();
    await subscribe(auth, service.id).expect(201);
    expect((await subscribe(auth, service.id).expect(409)).body.code).toBe('ALREADY_SUBSCRIBED');

    const scarce = await createPlan(db, pool, { maxInstances: 1 });
    await subscribe(auth, scarce.id).expect(201);
    const other = await customer();
    expect((await subscribe(other.auth, scarce.id).expect(409)).body.code).toBe('SOLD_OUT');
  });

  it('returns the first result for a repeated Idempotency-Key, charging once', async () => {
    const { service, auth, user } = await setup();
    const first = await subscribe(auth, service.id, 'key-0001-abcdef').expect(201);
    const again = await subscribe(auth, service.id, 'key-0001-abcdef').expect(200);
    expect(again.body.data.id).toBe(first.body.data.id);
    expect(await db.transaction.count({ where: { userId: user.id, type: 'CHARGE' } })).toBe(1);
    const other = await createPlan(db, (await createPool(db)), {});
    expect((await subscribe(auth, other.id, 'key-0001-abcdef').expect(409)).body.code).toBe('CONFLICT');
    expect((await subscribe(auth, other.id, 'short').expect(400)).body.errors).toEqual([expect.objectContaining({ field: 'Idempotency-Key' })]);
  });
});

describe('subscription actions', () => {
  async function active() {
    const s = await setup();
    const res = await subscribe(s.auth, s.service.id).expect(201);
    await db.subscription.update({ where: { id: res.body.data.id }, data: { status: 'ACTIVE' } });
    return { ...s, id: res.body.data.id as string };
  }

  it('cancels at period end, reactivates, then cancels now', async () => {
    const { id, auth } = await active();
    const scheduled = await request.post(`/api/v1/subscriptions/${id}/cancel`).set('Authorization', auth).send({}).expect(200);
    expect(scheduled.body.data).toMatchObject({ status: 'ACTIVE', cancelAtPeriodEnd: true });
    expect((await request.post(`/api/v1/subscriptions/${id}/cancel`).set('Authorization', auth).send({}).expect(409)).body.code).toBe('INVALID_STATE');
    const back = await request.post(`/api/v1/subscriptions/${id}/reactivate`).set('Authorization', auth).expect(200);
    expect(back.body.data.cancelAtPeriodEnd).toBe(false);
    await request.post(`/api/v1/subscriptions/${id}/reactivate`).set('Authorization', auth).expect(409);
    const now = await request.post(`/api/v1/subscriptions/${id}/cancel`).set('Authorization', auth).send({ atPeriodEnd: false, reason: 'Moving on' }).expect(200);
    expect(now.body.data).toMatchObject({ status: 'CANCELLED', cancelReason: 'Moving on', cancelledAt: expect.any(String), endedAt: expect.any(String) });
    expect((await request.post(`/api/v1/subscriptions/${id}/cancel`).set('Authorization', auth).send({ atPeriodEnd: false }).expect(409)).body.code).toBe('INVALID_STATE');
    const types = (await db.domainEvent.findMany({ where: { subjectId: id }, orderBy: { occurredAt: 'asc' } })).map((e) => e.type);
    expect(types).toEqual(['subscription.created', 'subscription.cancel_scheduled', 'subscription.reactivated', 'subscription.cancelled']);
  });

  it('refunds a PENDING subscription in full when its owner cancels it', async () => {
    const { service, auth, user } = await setup();
    const { body } = await subscribe(auth, service.id).expect(201);
    const res = await request.post(`/api/v1/subscriptions/${body.data.id}/cancel`).set('Authorization', auth).send({}).expect(200);
    expect(res.body.data.status).toBe('CANCELLED');
    expect(await balanceOf(db, user.id)).toBe(100_000);
    expect((await db.transaction.findMany({ where: { subscriptionId: body.data.id }, orderBy: { createdAt: 'asc' } })).map((t) => [t.type, t.amount])).toEqual([
      ['CHARGE', -PRICE],
      ['REFUND', PRICE],
    ]);
  });

  it('quotes and applies an upgrade now with proration, and a downgrade at renewal, within the plan group only', async () => {
    const group = `grp-${Date.now().toString(36)}`;
    const s = await setup(200_000, { planGroup: group, monthlyPrice: 30_000 });
    const { body } = await subscribe(s.auth, s.service.id).expect(201);
    const id = body.data.id as string;
    await db.subscription.update({ where: { id }, data: { status: 'ACTIVE' } });
    const large = await createPlan(db, s.pool, { planGroup: group, monthlyPrice: 60_000 });
    const small = await createPlan(db, s.pool, { planGroup: group, monthlyPrice: 10_000 });
    const stranger = await createPlan(db, s.pool, { planGroup: `${group}-other`, monthlyPrice: 60_000 });

    const quote = await request.get(`/api/v1/subscriptions/${id}/change-plan/preview`).query({ serviceId: large.id }).set('Authorization', s.auth).expect(200);
    expect(quote.body.data).toMatchObject({ kind: 'upgrade', from: { monthlyPrice: 30_000 }, to: { monthlyPrice: 60_000 } });
    expect(quote.body.data.amountDue).toBeGreaterThan(29_000);
    expect(quote.body.data.amountDue).toBeLessThanOrEqual(30_000);
    expect(quote.body.data).not.toHaveProperty('target');
    expect((await request.get(`/api/v1/subscriptions/${id}/change-plan/preview`).query({ serviceId: stranger.id }).set('Authorization', s.auth).expect(409)).body.code).toBe('INVALID_STATE');

    const up = await request.post(`/api/v1/subscriptions/${id}/change-plan`).set('Authorization', s.auth).send({ serviceId: large.id }).expect(200);
    expect(up.body.data).toMatchObject({ serviceId: large.id, priceAmount: 60_000, status: 'ACTIVE' });
    const charges = await db.transaction.findMany({ where: { subscriptionId: id, type: 'CHARGE' }, orderBy: { createdAt: 'asc' } });
    expect(charges.map((c) => c.amount)).toEqual([-30_000, -quote.body.data.amountDue]);

    const down = await request.post(`/api/v1/subscriptions/${id}/change-plan`).set('Authorization', s.auth).send({ serviceId: small.id }).expect(200);
    expect(down.body.data).toMatchObject({ serviceId: large.id, priceAmount: 60_000, pendingService: { id: small.id, monthlyPrice: 10_000 } });
    expect(await db.transaction.count({ where: { subscriptionId: id, type: 'CHARGE' } })).toBe(2);
    expect(await ledgerSum(db, s.user.id)).toBe(await balanceOf(db, s.user.id));
  });

  it('refuses a plan change onto a service the customer already subscribes to (409, found by the ledger property test)', async () => {
    const group = `grp2-${Date.now().toString(36)}`;
    const s = await setup(500_000, { planGroup: group, monthlyPrice: 20_000 });
    const large = await createPlan(db, s.pool, { planGroup: group, monthlyPrice: 40_000 });
    const small = await createPlan(db, s.pool, { planGroup: group, monthlyPrice: 10_000 });
    const a = (await subscribe(s.auth, s.service.id).expect(201)).body.data.id as string;
    await subscribe(s.auth, large.id).expect(201);
    await subscribe(s.auth, small.id).expect(201);
    await db.subscription.updateMany({ where: { userId: s.user.id }, data: { status: 'ACTIVE' } });
    for (const target of [large, small]) {
      const res = await request.post(`/api/v1/subscriptions/${a}/change-plan`).set('Authorization', s.auth).send({ serviceId: target.id }).expect(409);
      expect(res.body.code).toBe('ALREADY_SUBSCRIBED');
    }
    expect((await db.subscription.findUniqueOrThrow({ where: { id: a } })).serviceId).toBe(s.service.id);
    expect(await ledgerSum(db, s.user.id)).toBe(await balanceOf(db, s.user.id));
  });

  it('never shows or touches another user\'s subscription (404)', async () => {
    const { id } = await active();
    const stranger = await customer();
    await request.get(`/api/v1/subscriptions/${id}`).set('Authorization', stranger.auth).expect(404);
    await request.post(`/api/v1/subscriptions/${id}/cancel`).set('Authorization', stranger.auth).send({}).expect(404);
    await request.post(`/api/v1/subscriptions/${id}/renew`).set('Authorization', stranger.auth).expect(404);
    await request.get(`/api/v1/subscriptions/${id}/change-plan/preview`).query({ serviceId: 'x' }).set('Authorization', stranger.auth).expect(404);
    const list = await request.get('/api/v1/subscriptions').set('Authorization', stranger.auth).expect(200);
    expect(list.body.data.subscriptions).toEqual([]);
    for (const path of ['/api/v1/admin/subscriptions', `/api/v1/admin/subscriptions/${id}`]) await request.get(path).set('Authorization', stranger.auth).expect(403);
    await request.post(`/api/v1/admin/subscriptions/${id}/suspend`).set('Authorization', stranger.auth).send({ reason: 'nope' }).expect(403);
  });
});

describe('administrators', () => {
  it('suspend, resume, extend and cancel with a refund of the unused days', async () => {
    const s = await setup();
    const admin = await createAdmin(db, config);
    const { body } = await subscribe(s.auth, s.service.id).expect(201);
    const id = body.data.id as string;
    await db.subscription.update({ where: { id }, data: { status: 'ACTIVE' } });

    const suspended = await request.post(`/api/v1/admin/subscriptions/${id}/suspend`).set('Authorization', admin.auth).send({ reason: 'Abuse report' }).expect(200);
    expect(suspended.body.data).toMatchObject({ status: 'SUSPENDED', suspendedBy: 'ADMIN', cancelReason: 'Abuse report' });
    // A billing payment cannot lift an administrator's suspension.
    expect((await request.post(`/api/v1/subscriptions/${id}/renew`).set('Authorization', s.auth).expect(409)).body.code).toBe('INVALID_STATE');
    const resumed = await request.post(`/api/v1/admin/subscriptions/${id}/resume`).set('Authorization', admin.auth).expect(200);
    expect(resumed.body.data).toMatchObject({ status: 'ACTIVE', suspendedBy: null });
    const before = new Date(resumed.body.data.currentPeriodEnd).getTime();
    const extended = await request.post(`/api/v1/admin/subscriptions/${id}/extend`).set('Authorization', admin.auth).send({ days: 7 }).expect(200);
    expect(new Date(extended.body.data.currentPeriodEnd).getTime() - before).toBe(7 * 86_400_000);

    const list = await request.get('/api/v1/admin/subscriptions').query({ userId: s.user.id }).set('Authorization', admin.auth).expect(200);
    expect(list.body.data.subscriptions.map((x: { id: string }) => x.id)).toEqual([id]);

    const cancelled = await request.post(`/api/v1/admin/subscriptions/${id}/cancel`).set('Authorization', admin.auth).send({ reason: 'Requested by support', refundUnused: true }).expect(200);
    expect(cancelled.body.data.status).toBe('CANCELLED');
    const refund = await db.transaction.findFirstOrThrow({ where: { subscriptionId: id, type: 'REFUND' } });
    expect(refund.amount).toBeGreaterThan(0);
    expect(refund.amount).toBeLessThanOrEqual(PRICE);
    expect(await ledgerSum(db, s.user.id)).toBe(await balanceOf(db, s.user.id));
    await request.post(`/api/v1/admin/subscriptions/${id}/resume`).set('Authorization', admin.auth).expect(409);
  });
});

describe('the wallet', () => {
  it('shows the balance and the ledger, filtered, newest first', async () => {
    const s = await setup();
    await subscribe(s.auth, s.service.id).expect(201);
    const wallet = await request.get('/api/v1/wallet').set('Authorization', s.auth).expect(200);
    expect(wallet.body.data).toEqual({ balance: 100_000 - PRICE, currency: 'IDR' });
    const all = await request.get('/api/v1/wallet/transactions').set('Authorization', s.auth).expect(200);
    expect(all.body.data.transactions.map((t: { type: string }) => t.type)).toEqual(['CHARGE', 'TOPUP']);
    const charges = await request.get('/api/v1/wallet/transactions').query({ type: 'CHARGE', status: 'SUCCEEDED' }).set('Authorization', s.auth).expect(200);
    expect(charges.body.data.pagination.total).toBe(1);
    await request.get('/api/v1/wallet/transactions').query({ type: 'GIFT' }).set('Authorization', s.auth).expect(400);
    const empty = await createUser(db, config);
    expect((await request.get('/api/v1/wallet').set('Authorization', empty.auth).expect(200)).body.data).toEqual({ balance: 0, currency: 'IDR' });
  });

  it('lets administrators top up (once per reference) and adjust, never below zero, recorded with who did it', async () => {
    const admin = await createAdmin(db, config);
    const { user, auth } = await createUser(db, config);
    const topup = await request.post(`/api/v1/admin/users/${user.id}/wallet/topup`).set('Authorization', admin.auth).send({ amount: 50_000, reference: 'BCA-123' }).expect(201);
    expect(topup.body.data.transaction).toMatchObject({ type: 'TOPUP', amount: 50_000, balanceAfter: 50_000 });
    await request.post(`/api/v1/admin/users/${user.id}/wallet/topup`).set('Authorization', admin.auth).send({ amount: 50_000, reference: 'BCA-123' }).expect(200);
    expect(await balanceOf(db, user.id)).toBe(50_000);
    const row = await db.transaction.findFirstOrThrow({ where: { userId: user.id, type: 'TOPUP' } });
    expect(row.createdBy).toBe(admin.user.id);

    await request.post(`/api/v1/admin/users/${user.id}/wallet/adjust`).set('Authorization', admin.auth).send({ amount: -20_000, reason: 'Duplicate transfer' }).expect(201);
    const over = await request.post(`/api/v1/admin/users/${user.id}/wallet/adjust`).set('Authorization', admin.auth).send({ amount: -40_000, reason: 'Too much' }).expect(402);
    expect(over.body.code).toBe('INSUFFICIENT_BALANCE');
    await request.post(`/api/v1/admin/users/${user.id}/wallet/adjust`).set('Authorization', admin.auth).send({ amount: 0, reason: 'Nothing' }).expect(400);
    expect(await balanceOf(db, user.id)).toBe(30_000);
    expect(await ledgerSum(db, user.id)).toBe(30_000);
    await request.post(`/api/v1/admin/users/${user.id}/wallet/topup`).set('Authorization', auth).send({ amount: 1, reference: 'self' }).expect(403);
    await request.post('/api/v1/admin/users/no-such-user/wallet/topup').set('Authorization', admin.auth).send({ amount: 1, reference: 'x' }).expect(404);
  });
});
