import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { createMailer } from '../../src/modules/notifications/index.js';
import { declareQueues } from '../../src/queues.js';
import { noJobs } from '../../src/lib/jobs.js';
import { balanceOf, createAdmin, createUser, ledgerSum } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';
import { startMidtransDouble } from '../helpers/midtrans-double.js';

const midtrans = await startMidtransDouble();
const ctx = createTestContext({ env: midtrans.env });
const { request, db, config } = ctx;
afterAll(async () => {
  await ctx.close();
  await midtrans.close();
});

const NOTIFY = '/api/v1/payments/midtrans/notifications';

async function startTopup(amount = 100_000) {
  const u = await createUser(db, config);
  const res = await request.post('/api/v1/wallet/topups').set('Authorization', u.auth).send({ amount }).expect(201);
  const orderId = res.body.data.payment.orderId as string;
  return { ...u, id: res.body.data.transaction.id as string, orderId, body: res.body };
}

const notify = (body: Record<string, string>) => request.post(NOTIFY).send(body);
const statusCalls = (orderId: string) => midtrans.requests.filter((r) => r.path === `/v2/${orderId}/status`).length;
const creditEvents = (transactionId: string) => db.domainEvent.count({ where: { type: 'wallet.credited', subjectId: transactionId } });

describe('POST /api/v1/wallet/topups', () => {
  it('creates a PENDING top-up and its Snap page, calling Snap with the server key, the order and the customer', async () => {
    const u = await createUser(db, config, { name: 'Budi Santoso' });
    const before = Date.now();
    const res = await request.post('/api/v1/wallet/topups').set('Authorization', u.auth).send({ amount: 150_000 }).expect(201);
    const { transaction, payment } = res.body.data;
    expect(transaction).toMatchObject({ type: 'TOPUP', status: 'PENDING', amount: 150_000, balanceAfter: null, provider: 'MIDTRANS', providerRef: payment.orderId, number: expect.stringMatching(/^TRX-\d{6}-\d{6}$/) });
    expect(payment).toMatchObject({ provider: 'MIDTRANS', orderId: expect.stringMatching(/^topup-[0-9a-f-]{36}$/), clientKey: midtrans.clientKey, expiresAt: transaction.expiresAt });
    const order = midtrans.orders.get(payment.orderId);
    expect(payment.token).toBe(order?.token);
    expect(payment.redirectUrl).toMatch(new RegExp(`/snap/v4/redirection/${order?.token}$`));
    expect(new Date(transaction.expiresAt).getTime()).toBeGreaterThanOrEqual(before + 60 * 60_000 - 1000);

    const call = midtrans.requests.find((r) => r.path === '/snap/v1/transactions' && (r.body as { transaction_details?: { order_id?: string } }).transaction_details?.order_id === payment.orderId);
    expect(call).toMatchObject({ method: 'POST', authorization: `Basic ${Buffer.from(`${midtrans.serverKey}:`).toString('base64')}`, contentType: 'application/json', accept: 'application/json' });
    expect(call?.body).toMatchObject({
      transaction_details: { order_id: payment.orderId, gross_amount: 150_000 },
      customer_details: { first_name: 'Budi Santoso', email: u.user.email },
      expiry: { unit: 'minute', duration: 60, start_time: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \+0700$/) },
    });

    const row = await db.transaction.findUniqueOrThrow({ where: { id: transaction.id } });
    expect(row).toMatchObject({ status: 'PENDING', userId: u.user.id, providerRef: payment.orderId, paymentDetails: { orderId: payment.orderId, token: payment.token, redirectUrl: payment.redirectUrl } });
    expect(await balanceOf(db, u.user.id)).toBe(0);
    expect(JSON.stringify(res.body)).not.toContain(midtrans.serverKey);
  });

  it('refuses amounts outside 10,000..100,000,000 and unknown keys with 400, creating nothing', async () => {
    const u = await createUser(db, config);
    for (const body of [{ amount: 9_999 }, { amount: 100_000_001 }, { amount: 15_000.5 }, { amount: '50000' }, {}, { amount: 50_000, userId: 'x' }]) {
      const res = await request.post('/api/v1/wallet/topups').set('Authorization', u.auth).send(body).expect(400);
      expect(res.body.code).toBe('VALIDATION_ERROR');
    }
    await request.post('/api/v1/wallet/topups').send({ amount: 50_000 }).expect(401);
    expect(await db.transaction.count({ where: { userId: u.user.id } })).toBe(0);
  });

  it('answers 502 PAYMENT_PROVIDER_ERROR when Snap fails, and the top-up is FAILED, not left payable', async () => {
    const u = await createUser(db, config);
    midtrans.fail('snap', { status: 500 });
    const res = await request.post('/api/v1/wallet/topups').set('Authorization', u.auth).send({ amount: 20_000 }).expect(502);
    expect(res.body).toMatchObject({ success: false, code: 'PAYMENT_PROVIDER_ERROR', statusCode: 502 });
    const rows = await db.transaction.findMany({ where: { userId: u.user.id } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'FAILED', provider: 'MIDTRANS', amount: 20_000, balanceAfter: null });
    expect(await balanceOf(db, u.user.id)).toBe(0);
    const view = await request.get(`/api/v1/wallet/topups/${rows[0]?.id}`).set('Authorization', u.auth).expect(200);
    expect(view.body.data).toMatchObject({ transaction: { status: 'FAILED' }, payment: null });
  });
});

describe('without Midtrans keys', () => {
  const off = createTestContext();
  afterAll(() => off.close());

  it('answers 503 PAYMENT_PROVIDER_DISABLED to a top-up and to notifications, creating nothing', async () => {
    const u = await createUser(off.db, off.config);
    const res = await off.request.post('/api/v1/wallet/topups').set('Authorization', u.auth).send({ amount: 50_000 }).expect(503);
    expect(res.body).toMatchObject({ success: false, code: 'PAYMENT_PROVIDER_DISABLED', statusCode: 503 });
    await off.request.post(NOTIFY).send({ order_id: 'topup-x', status_code: '200', gross_amount: '50000.00', signature_key: 'a'.repeat(128) }).expect(503);
    expect(await off.db.transaction.count({ where: { userId: u.user.id } })).toBe(0);
  });
});

describe('GET /api/v1/wallet/topups/:id', () => {
  it("shows the owner the top-up and its payment page; anyone else's, an unknown id or a manual top-up is 404", async () => {
    const t = await startTopup(30_000);
    const mine = await request.get(`/api/v1/wallet/topups/${t.id}`).set('Authorization', t.auth).expect(200);
    expect(mine.body.data).toEqual(t.body.data);

    const other = await createUser(db, config);
    expect((await request.get(`/api/v1/wallet/topups/${t.id}`).set('Authorization', other.auth).expect(404)).body.code).toBe('NOT_FOUND');
    const admin = await createAdmin(db, config);
    await request.get(`/api/v1/wallet/topups/${t.id}`).set('Authorization', admin.auth).expect(404);
    await request.get('/api/v1/wallet/topups/no-such-top-up').set('Authorization', t.auth).expect(404);
    const manual = await request.post(`/api/v1/admin/users/${t.user.id}/wallet/topup`).set('Authorization', admin.auth).send({ amount: 5000, reference: 'bank-1' }).expect(201);
    await request.get(`/api/v1/wallet/topups/${manual.body.data.transaction.id}`).set('Authorization', t.auth).expect(404);
  });
});

describe('POST /api/v1/payments/midtrans/notifications', () => {
  it('confirms a settlement with the status API, credits once, records wallet.credited, and keeps the ledger equal to the balance', async () => {
    const t = await startTopup(100_000);
    midtrans.setStatus(t.orderId, 'settlement');
    const body = midtrans.notification(t.orderId);
    expect(body).toMatchObject({ gross_amount: '100000.00', status_code: '200', transaction_status: 'settlement' });

    const res = await notify(body).expect(200);
    expect(res.body.data).toEqual({ orderId: t.orderId, status: 'SUCCEEDED', result: 'credited' });
    const check = midtrans.requests.filter((r) => r.path === `/v2/${t.orderId}/status`);
    expect(check).toHaveLength(1);
    expect(check[0]).toMatchObject({ method: 'GET', authorization: `Basic ${Buffer.from(`${midtrans.serverKey}:`).toString('base64')}` });

    const row = await db.transaction.findUniqueOrThrow({ where: { id: t.id } });
    expect(row).toMatchObject({ status: 'SUCCEEDED', amount: 100_000, balanceAfter: 100_000 });
    expect(await balanceOf(db, t.user.id)).toBe(100_000);
    expect(await ledgerSum(db, t.user.id)).toBe(100_000);
    const events = await db.domainEvent.findMany({ where: { type: 'wallet.credited', subjectId: t.id } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ userId: t.user.id, data: { transactionId: t.id, transactionNumber: row.number, amount: 100_000, balance: 100_000 } });

    // Midtrans retries until it gets a 2xx: a replay is 200 and changes nothing.
    const again = await notify(body).expect(200);
    expect(again.body.data).toEqual({ orderId: t.orderId, status: 'SUCCEEDED', result: 'already_handled' });
    expect(await balanceOf(db, t.user.id)).toBe(100_000);
    expect(await creditEvents(t.id)).toBe(1);

    const view = await request.get(`/api/v1/wallet/topups/${t.id}`).set('Authorization', t.auth).expect(200);
    expect(view.body.data).toMatchObject({ transaction: { status: 'SUCCEEDED', balanceAfter: 100_000 }, payment: null });
    const wallet = await request.get('/api/v1/wallet').set('Authorization', t.auth).expect(200);
    expect(wallet.body.data).toEqual({ balance: 100_000, currency: 'IDR' });
  });

  it('credits exactly once when the same notification arrives 10 times at once', async () => {
    const t = await startTopup(250_000);
    midtrans.setStatus(t.orderId, 'settlement', { paymentType: 'qris' });
    const body = midtrans.notification(t.orderId);
    const results = await Promise.all(Array.from({ length: 10 }, () => notify(body)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(results.filter((r) => r.body.data.result === 'credited')).toHaveLength(1);
    expect(results.every((r) => r.body.data.status === 'SUCCEEDED')).toBe(true);
    expect(await balanceOf(db, t.user.id)).toBe(250_000);
    expect(await ledgerSum(db, t.user.id)).toBe(250_000);
    expect(await db.transaction.count({ where: { userId: t.user.id, status: 'SUCCEEDED' } })).toBe(1);
    expect(await creditEvents(t.id)).toBe(1);
  });

  it('refuses a bad signature with 403, without asking Midtrans or changing anything', async () => {
    const t = await startTopup(40_000);
    midtrans.setStatus(t.orderId, 'settlement');
    const genuine = midtrans.notification(t.orderId);
    const forged = [
      { ...genuine, gross_amount: '4000000.00' },
      { ...genuine, signature_key: 'f'.repeat(128) },
      { ...genuine, signature_key: genuine.signature_key.slice(0, 127) },
      { ...genuine, signature_key: 'not hex' },
    ];
    for (const body of forged) expect((await notify(body).expect(403)).body.code).toBe('FORBIDDEN');
    const { signature_key: _dropped, ...unsigned } = genuine;
    await notify(unsigned).expect(400);
    expect(statusCalls(t.orderId)).toBe(0);
    expect(await db.transaction.findUniqueOrThrow({ where: { id: t.id } })).toMatchObject({ status: 'PENDING', balanceAfter: null });
    expect(await balanceOf(db, t.user.id)).toBe(0);
  });

  it('never trusts the body alone: a signed "settlement" for an order Midtrans reports pending changes nothing', async () => {
    const t = await startTopup(60_000);
    midtrans.setStatus(t.orderId, 'pending');
    // Signed with the real key (a leaked key, or a replay of another order's shape): the status API decides.
    const res = await notify(midtrans.notification(t.orderId, { transaction_status: 'settlement', status_code: '200' })).expect(200);
    expect(res.body.data).toEqual({ orderId: t.orderId, status: 'PENDING', result: 'unchanged' });
    expect(statusCalls(t.orderId)).toBe(1);
    expect(await balanceOf(db, t.user.id)).toBe(0);
    // A card capture under fraud review is not money yet; accepted, it is.
    midtrans.setStatus(t.orderId, 'capture', { fraudStatus: 'challenge' });
    expect((await notify(midtrans.notification(t.orderId)).expect(200)).body.data.result).toBe('unchanged');
    midtrans.setStatus(t.orderId, 'capture', { fraudStatus: 'accept' });
    expect((await notify(midtrans.notification(t.orderId)).expect(200)).body.data.result).toBe('credited');
    expect(await balanceOf(db, t.user.id)).toBe(60_000);
  });

  it("refuses (409) a payment whose amount is not the top-up's, and changes nothing", async () => {
    const t = await startTopup(75_000);
    midtrans.setStatus(t.orderId, 'settlement', { reportedAmount: '7500000.00' });
    const res = await notify(midtrans.notification(t.orderId)).expect(409);
    expect(res.body.code).toBe('CONFLICT');
    expect(await db.transaction.findUniqueOrThrow({ where: { id: t.id } })).toMatchObject({ status: 'PENDING', balanceAfter: null });
    expect(await balanceOf(db, t.user.id)).toBe(0);
    expect(await creditEvents(t.id)).toBe(0);
  });

  it('closes an expired payment as CANCELLED and a denied one as FAILED, crediting nothing', async () => {
    const expired = await startTopup(10_000);
    midtrans.setStatus(expired.orderId, 'expire');
    expect((await notify(midtrans.notification(expired.orderId)).expect(200)).body.data).toEqual({ orderId: expired.orderId, status: 'CANCELLED', result: 'closed' });
    const denied = await startTopup(10_000);
    midtrans.setStatus(denied.orderId, 'deny');
    expect((await notify(midtrans.notification(denied.orderId)).expect(200)).body.data).toEqual({ orderId: denied.orderId, status: 'FAILED', result: 'closed' });
    // A late "settlement" for a closed top-up is answered 200 (and logged for an operator), never credited.
    midtrans.setStatus(denied.orderId, 'settlement');
    expect((await notify(midtrans.notification(denied.orderId)).expect(200)).body.data.result).toBe('already_handled');
    expect(await balanceOf(db, expired.user.id)).toBe(0);
    expect(await balanceOf(db, denied.user.id)).toBe(0);
  });

  it('answers 200 and does nothing for a signed notification of an order that is not ours', async () => {
    const res = await notify(midtrans.notification('dashboard-test-notification-1')).expect(200);
    expect(res.body.data).toEqual({ orderId: 'dashboard-test-notification-1', status: null, result: 'unknown_order' });
  });

  it('answers 502 while the status API fails, so that Midtrans retries, and credits on the retry', async () => {
    const t = await startTopup(35_000);
    midtrans.setStatus(t.orderId, 'settlement');
    midtrans.fail('status', { status: 503, orderId: t.orderId });
    const body = midtrans.notification(t.orderId);
    expect((await notify(body).expect(502)).body.code).toBe('PAYMENT_PROVIDER_ERROR');
    expect(await balanceOf(db, t.user.id)).toBe(0);
    expect((await notify(body).expect(200)).body.data.result).toBe('credited');
    expect(await balanceOf(db, t.user.id)).toBe(35_000);
  });
});

describe('the notification route\'s rate limit', () => {
  const limited = createTestContext({ env: { ...midtrans.env, RATE_LIMIT_MAX: '1', TRUST_PROXY: 'true' } });
  afterAll(() => limited.close());

  it("has a budget of its own, ten times the global one, outside the global per-address limit", async () => {
    const u = await createUser(limited.db, limited.config);
    const from = (address: string) => limited.request.post(NOTIFY).set('X-Forwarded-For', address).send({ order_id: 'topup-x', status_code: '200', gross_amount: '1.00', signature_key: 'a'.repeat(128) });
    for (let i = 0; i < 10; i++) expect((await from('198.51.100.77')).status).toBe(403);
    const over = await from('198.51.100.77');
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ code: 'RATE_LIMITED', statusCode: 429 });
    // The notifications spent nothing of the address's global budget, and other addresses are untouched.
    await limited.request.get('/api/v1/wallet').set('Authorization', u.auth).set('X-Forwarded-For', '198.51.100.77').expect(200);
    expect((await from('198.51.100.78')).status).toBe(403);
  });
});

describe('wallet.expire-topups', () => {
  const logger = createLogger(config);
  const queue = declareQueues({ db, config, logger, mailer: createMailer({ config, logger }) }, noJobs).find((q) => q.name === 'wallet.expire-topups');
  const run = (now: Date) => queue?.handler({}, { clock: { now: () => now }, logger, jobId: 'test', retryCount: 0, lastAttempt: false }) as Promise<{ checked: number; credited: number; closed: number; unchanged: number; errors: number }>;
  const expireAt = (id: string, at: Date) => db.transaction.update({ where: { id }, data: { expiresAt: at } });

  it('re-checks unpaid top-ups past their expiry with Midtrans: credits the paid, expires the pending at Midtrans, cancels the never-opened', async () => {
    expect(queue?.cron).toBe('*/5 * * * *');
    const now = new Date();
    const past = new Date(now.getTime() - 10 * 60_000);
    const neverOpened = await startTopup(10_000);
    const stillPending = await startTopup(20_000);
    const paidUnnotified = await startTopup(30_000);
    const midtransDown = await startTopup(40_000);
    const inGrace = await startTopup(50_000);
    midtrans.setStatus(stillPending.orderId, 'pending');
    midtrans.setStatus(paidUnnotified.orderId, 'settlement');
    midtrans.setStatus(midtransDown.orderId, 'pending');
    midtrans.fail('status', { status: 500, orderId: midtransDown.orderId });
    for (const t of [neverOpened, stillPending, paidUnnotified, midtransDown]) await expireAt(t.id, past);
    await expireAt(inGrace.id, new Date(now.getTime() - 60_000));

    const counts = await run(now);
    expect(counts).toMatchObject({ checked: 4, credited: 1, closed: 2, errors: 1 });
    const status = async (t: { id: string }) => (await db.transaction.findUniqueOrThrow({ where: { id: t.id } })).status;
    expect(await status(neverOpened)).toBe('CANCELLED');
    expect(await status(stillPending)).toBe('CANCELLED');
    expect(midtrans.orders.get(stillPending.orderId)?.transactionStatus).toBe('expire');
    expect(midtrans.requests.some((r) => r.method === 'POST' && r.path === `/v2/${stillPending.orderId}/expire`)).toBe(true);
    expect(await status(paidUnnotified)).toBe('SUCCEEDED');
    expect(await balanceOf(db, paidUnnotified.user.id)).toBe(30_000);
    expect(await creditEvents(paidUnnotified.id)).toBe(1);
    expect(await status(midtransDown)).toBe('PENDING');
    expect(await status(inGrace)).toBe('PENDING');
    for (const t of [neverOpened, stillPending]) expect(await balanceOf(db, t.user.id)).toBe(0);

    // The next run picks up what Midtrans could not answer; the closed ones are not looked at again.
    const calls = midtrans.requests.length;
    expect(await run(now)).toMatchObject({ checked: 1, closed: 1, errors: 0 });
    expect(await status(midtransDown)).toBe('CANCELLED');
    expect(midtrans.requests.length - calls).toBe(3);
    const late = await notify(midtrans.notification(stillPending.orderId)).expect(200);
    expect(late.body.data).toEqual({ orderId: stillPending.orderId, status: 'CANCELLED', result: 'already_handled' });
  });
});
