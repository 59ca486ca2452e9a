import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dispatchEvents, recordEvent } from '../../src/lib/events.js';
import { noJobs, type Clock } from '../../src/lib/jobs.js';
import { createLogger } from '../../src/lib/logger.js';
import { createWebhookClient, deliverWebhook, sweepDeliveries, webhookConsumer } from '../../src/modules/webhooks/index.js';
import { declareQueues, eventConsumers } from '../../src/queues.js';
import { createUser, unique } from '../factories/index.js';
import { createJobsContext, type JobsContext } from '../helpers/jobs-context.js';
import { startTestSmtp, type TestSmtp } from '../helpers/smtp.js';
import { startWebhookReceiver, verifies, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const API = '/api/v1';
const TIMEOUT_MS = 1000;
/** The runner's clock: tests move it forward instead of sleeping through the schedule. */
let offsetMs = 0;
const clock: Clock = { now: () => new Date(Date.now() + offsetMs) };

let ctx: JobsContext;
let smtp: TestSmtp;
let receiver: WebhookReceiver;
beforeAll(async () => {
  smtp = await startTestSmtp();
  receiver = await startWebhookReceiver();
  ctx = await createJobsContext({
    env: { SMTP_URL: smtp.url, WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_IPS: '127.0.0.1' },
    clock,
    // The real queues, with the client's 15 s timeout shortened for the timeout test.
    queues: (deps, jobs) => declareQueues({ ...deps, webhookClient: { timeoutMs: TIMEOUT_MS } }, jobs),
  });
});
afterEach(() => {
  offsetMs = 0;
});
afterAll(async () => {
  await ctx.close();
  await receiver.close();
  await smtp.close();
});

/** A user with one endpoint on its own path of the receiver; `secret` as the API showed it. */
async function endpointOwner(body: { events?: string[] } = {}) {
  const { user, auth } = await createUser(ctx.db, ctx.config, { email: `${unique('hooks')}@example.test` });
  const addEndpoint = async (extra: { events?: string[] } = {}) => {
    const target = receiver.endpoint();
    const res = await ctx.request.post(`${API}/webhooks`).set('Authorization', auth).send({ url: target.url, ...extra }).expect(201);
    return { target, id: res.body.data.id as string, secret: res.body.data.secret as string };
  };
  const first = await addEndpoint(body);
  const sendTest = async (id = first.id) => (await ctx.request.post(`${API}/webhooks/${id}/test`).set('Authorization', auth).expect(202)).body.data.eventId as string;
  return { user, auth, ...first, addEndpoint, sendTest };
}

const deliveryOf = (webhookId: string, eventId: string) =>
  ctx.db.webhookDelivery.findUniqueOrThrow({ where: { webhookId_eventId: { webhookId, eventId } }, include: { attemptLog: { orderBy: { number: 'asc' } } } });
const settled = (webhookId: string, eventId: string, status: 'SUCCEEDED' | 'FAILED' | 'PENDING', attempts: number) =>
  expect.poll(async () => deliveryOf(webhookId, eventId).then((d) => `${d.status}/${d.attempts}`), { timeout: 15_000 }).toBe(`${status}/${attempts}`);

/** Records an event the way the subscription and instance modules will. */
const recordFor = (userId: string, type: string) => recordEvent(ctx.db, { type, userId, subjectType: type.split('.')[0] as string, subjectId: unique('subject'), data: { status: 'ACTIVE' } });

describe('delivery', () => {
  it('sends a test event signed so that the standardwebhooks package verifies it with the endpoint secret', async () => {
    const owner = await endpointOwner();
    await ctx.db.webhook.update({ where: { id: owner.id }, data: { consecutiveFailures: 3 } });
    const eventId = await owner.sendTest();
    const [request] = await owner.target.waitFor(1);
    expect(verifies(request!, owner.secret)).toBe(true);
    expect(request!.headers).toMatchObject({ 'webhook-id': eventId, 'content-type': 'application/json', 'user-agent': expect.stringContaining('minispod') });
    expect(Number(request!.headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000, -2);
    const event = await ctx.db.domainEvent.findUniqueOrThrow({ where: { id: eventId } });
    expect(JSON.parse(request!.body)).toEqual({
      type: 'webhook.test',
      timestamp: event.occurredAt.toISOString(),
      data: { webhookId: owner.id, message: 'A test event sent from minispod', object: 'webhook', id: owner.id },
    });
    await settled(owner.id, eventId, 'SUCCEEDED', 1);
    const delivery = await deliveryOf(owner.id, eventId);
    expect(delivery).toMatchObject({ responseStatus: 200, responseBody: 'ok', lastError: null, nextAttemptAt: null, lockedUntil: null });
    expect(delivery.attemptLog).toEqual([expect.objectContaining({ number: 1, responseStatus: 200, responseBody: 'ok', error: null })]);
    // A success ends a run of failures.
    expect((await ctx.db.webhook.findUniqueOrThrow({ where: { id: owner.id } })).consecutiveFailures).toBe(0);
  });

  it('retries a scripted 500, 500, 200 on the schedule, with one event id', async () => {
    const owner = await endpointOwner();
    owner.target.reply({ status: 500, body: 'down' }, { status: 500, body: 'still down' });
    const eventId = await owner.sendTest();
    await settled(owner.id, eventId, 'PENDING', 1);
    const first = await deliveryOf(owner.id, eventId);
    const wait = (first.nextAttemptAt as Date).getTime() - (first.lastAttemptAt as Date).getTime();
    expect(wait).toBeGreaterThanOrEqual(4400);
    expect(wait).toBeLessThanOrEqual(5600);

    // The second attempt comes from the job queued for that time: real seconds.
    await owner.target.waitFor(2, 20_000);
    await settled(owner.id, eventId, 'PENDING', 2);
    const second = await deliveryOf(owner.id, eventId);
    const wait2 = (second.nextAttemptAt as Date).getTime() - (second.lastAttemptAt as Date).getTime();
    expect(wait2).toBeGreaterThanOrEqual(270_000);
    expect(wait2).toBeLessThanOrEqual(330_000);

    // Seven minutes later the minute's sweep finds it due.
    offsetMs = 7 * 60_000;
    ctx.runner.trigger('webhook.sweep');
    await owner.target.waitFor(3);
    await settled(owner.id, eventId, 'SUCCEEDED', 3);
    const requests = owner.target.requests();
    expect(requests.map((r) => r.id)).toEqual([eventId, eventId, eventId]);
    expect(requests.every((r) => verifies(r, owner.secret))).toBe(true);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    const delivery = await deliveryOf(owner.id, eventId);
    expect(delivery.attemptLog.map((a) => [a.number, a.responseStatus, a.responseBody])).toEqual([
      [1, 500, 'down'],
      [2, 500, 'still down'],
      [3, 200, 'ok'],
    ]);
    expect(delivery.attemptLog[0]?.error).toBe('HTTP 500');
  });

  it('counts a receiver that does not answer in time as a failed attempt, and retries', async () => {
    const owner = await endpointOwner();
    owner.target.reply({ hang: true });
    const eventId = await owner.sendTest();
    await settled(owner.id, eventId, 'PENDING', 1);
    const delivery = await deliveryOf(owner.id, eventId);
    expect(delivery.attemptLog[0]).toMatchObject({ responseStatus: null, error: `No complete response within ${TIMEOUT_MS / 1000} s` });
    expect(delivery.attemptLog[0]?.durationMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    await owner.target.waitFor(2, 20_000);
    await settled(owner.id, eventId, 'SUCCEEDED', 2);
  });

  it("waits as long as the receiver's Retry-After asks", async () => {
    const owner = await endpointOwner();
    owner.target.reply({ status: 503, headers: { 'retry-after': '120' }, body: 'busy' });
    const eventId = await owner.sendTest();
    await settled(owner.id, eventId, 'PENDING', 1);
    const delivery = await deliveryOf(owner.id, eventId);
    const wait = (delivery.nextAttemptAt as Date).getTime() - (delivery.lastAttemptAt as Date).getTime();
    expect(wait).toBeGreaterThanOrEqual(119_000);
    expect(wait).toBeLessThanOrEqual(121_000);
    // The next attempt's job waits for that time too.
    const [job] = await ctx.db.$queryRaw<{ start_after: Date }[]>`SELECT start_after FROM pgboss.job WHERE name = 'webhook.deliver' AND data->>'deliveryId' = ${delivery.id} AND state = 'created'`;
    expect(Math.abs((job?.start_after.getTime() ?? 0) - (delivery.nextAttemptAt as Date).getTime())).toBeLessThan(1000);
  });

  it('keeps at most 1 KB of a response body, as text PostgreSQL can store', async () => {
    const owner = await endpointOwner();
    owner.target.reply({ status: 500, body: `bad\u0000byte ${'x'.repeat(5000)}` });
    const eventId = await owner.sendTest();
    await settled(owner.id, eventId, 'PENDING', 1);
    const delivery = await deliveryOf(owner.id, eventId);
    const body = delivery.attemptLog[0]?.responseBody ?? '';
    expect(Buffer.byteLength(body.replace('\uFFFD', '?'))).toBe(1024);
    expect(body.startsWith('bad\uFFFDbyte xxx')).toBe(true);
    expect(delivery.responseBody).toBe(body);
  });

  it('counts a redirect as a failure and does not follow it, even to an allowed address', async () => {
    const owner = await endpointOwner();
    const elsewhere = receiver.endpoint();
    owner.target.reply({ status: 302, headers: { location: elsewhere.url } });
    const eventId = await owner.sendTest();
    await settled(owner.id, eventId, 'PENDING', 1);
    expect((await deliveryOf(owner.id, eventId)).attemptLog[0]).toMatchObject({ responseStatus: 302, error: 'HTTP 302 (redirects are not followed)' });
    await new Promise((r) => setTimeout(r, 300));
    expect(elsewhere.requests()).toHaveLength(0);
  });
});

describe('disabling', () => {
  it('disables an endpoint that answers 410 Gone, emails its owner once, and sends it nothing more', async () => {
    const owner = await endpointOwner();
    owner.target.reply({ status: 410, body: 'gone' });
    const eventId = await owner.sendTest();
    await settled(owner.id, eventId, 'FAILED', 1);
    expect((await deliveryOf(owner.id, eventId)).nextAttemptAt).toBeNull();
    expect(await ctx.db.webhook.findUniqueOrThrow({ where: { id: owner.id } })).toMatchObject({ isActive: false, disabledReason: 'The endpoint answered 410 Gone' });
    const [mail] = await smtp.waitFor(() => smtp.to(owner.user.email).length > 0).then(() => smtp.to(owner.user.email));
    expect(mail?.subject).toBe('Your webhook endpoint was disabled');
    expect(mail?.text).toContain(owner.target.url);
    expect(mail?.text).toContain('410 Gone');

    const later = await recordFor(owner.user.id, 'subscription.renewed');
    ctx.runner.trigger('events.dispatch');
    await expect.poll(() => ctx.db.domainEvent.findUniqueOrThrow({ where: { id: later } }).then((e) => e.dispatchedAt !== null)).toBe(true);
    expect(await ctx.db.webhookDelivery.count({ where: { eventId: later } })).toBe(0);
    await ctx.request.post(`${API}/webhooks/${owner.id}/test`).set('Authorization', owner.auth).expect(409);
    expect(owner.target.requests()).toHaveLength(1);
    expect(smtp.to(owner.user.email)).toHaveLength(1);
  });

  it('disables an endpoint after five deliveries in a row failed every attempt, and emails its owner', async () => {
    const owner = await endpointOwner();
    owner.target.reply(...Array.from({ length: 50 }, () => ({ status: 500 })));
    const events: string[] = [];
    for (let i = 0; i < 5; i++) events.push(await recordFor(owner.user.id, 'subscription.past_due'));
    // Written without their jobs: the attempts below run here, by a clock that walks the schedule.
    await dispatchEvents(ctx.db, [webhookConsumer({ jobs: noJobs })], clock);
    const client = createWebhookClient({ allowIps: ['127.0.0.1'] });
    const deps = { db: ctx.db, config: ctx.config, jobs: ctx.runner, client, logger: createLogger(ctx.config) };
    let t = Date.now();
    try {
      for (const [n, eventId] of events.entries()) {
        const { id } = await deliveryOf(owner.id, eventId);
        const outcomes = [];
        for (let attempt = 0; attempt < 10; attempt++) {
          t += 27 * 3_600_000;
          outcomes.push(await deliverWebhook(deps, { deliveryId: id }, { clock: { now: () => new Date(t) } }));
        }
        expect(outcomes).toEqual([...Array(9).fill('retrying'), 'failed']);
        expect(await ctx.db.webhook.findUniqueOrThrow({ where: { id: owner.id } })).toMatchObject({ consecutiveFailures: n + 1, isActive: n < 4 });
      }
    } finally {
      client.close();
    }
    expect(owner.target.requests()).toHaveLength(50);
    expect((await ctx.db.webhook.findUniqueOrThrow({ where: { id: owner.id } })).disabledReason).toBe('5 deliveries in a row failed');
    await smtp.waitFor(() => smtp.to(owner.user.email).length === 1);
    expect(smtp.to(owner.user.email)[0]?.text).toContain('5 deliveries in a row failed');
  });
});

describe('secret rotation', () => {
  it('signs with the old and the new secret for 24 hours, then with the new one only', async () => {
    const owner = await endpointOwner();
    const rotated = await ctx.request.post(`${API}/webhooks/${owner.id}/rotate-secret`).set('Authorization', owner.auth).expect(200);
    const fresh = rotated.body.data.secret as string;
    await owner.sendTest();
    const [during] = await owner.target.waitFor(1);
    expect(during!.headers['webhook-signature']).toMatch(/^v1,\S+ v1,\S+$/);
    expect([verifies(during!, owner.secret), verifies(during!, fresh)]).toEqual([true, true]);

    offsetMs = 25 * 3_600_000;
    await owner.sendTest();
    const [, after] = await owner.target.waitFor(2);
    expect(after!.headers['webhook-signature']).toMatch(/^v1,\S+$/);
    expect([verifies(after!, owner.secret), verifies(after!, fresh)]).toEqual([false, true]);
  });
});

describe('fan-out', () => {
  it('sends an event to each active endpoint whose filter takes it, and account events to none', async () => {
    const owner = await endpointOwner();
    const renewals = await owner.addEndpoint({ events: ['subscription.renewed'] });
    const instances = await owner.addEndpoint({ events: ['instance.running'] });
    const paused = await owner.addEndpoint();
    await ctx.request.patch(`${API}/webhooks/${paused.id}`).set('Authorization', owner.auth).send({ isActive: false }).expect(200);
    const stranger = await endpointOwner();

    const renewed = await recordFor(owner.user.id, 'subscription.renewed');
    const internal = await recordEvent(ctx.db, { type: 'user.password_changed', userId: owner.user.id, subjectType: 'user', subjectId: owner.user.id, data: { by: 'self' } });
    ctx.runner.trigger('events.dispatch');
    await owner.target.waitFor(1);
    await renewals.target.waitFor(1);
    await expect.poll(() => ctx.db.domainEvent.count({ where: { id: { in: [renewed, internal] }, dispatchedAt: null } })).toBe(0);

    expect((await ctx.db.webhookDelivery.findMany({ where: { eventId: renewed } })).map((d) => d.webhookId).sort()).toEqual([owner.id, renewals.id].sort());
    expect(await ctx.db.webhookDelivery.count({ where: { eventId: internal } })).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect([owner.target, renewals.target, instances.target, paused.target, stranger.target].map((t) => t.requests().length)).toEqual([1, 1, 0, 0, 0]);
    expect(verifies(renewals.target.requests()[0]!, renewals.secret)).toBe(true);
    expect(JSON.parse(renewals.target.requests()[0]!.body)).toMatchObject({ type: 'subscription.renewed', data: { status: 'ACTIVE', object: 'subscription' } });
  });

  it('does not send a delivery whose endpoint was paused after it was written', async () => {
    const owner = await endpointOwner();
    const eventId = await recordFor(owner.user.id, 'instance.running');
    await dispatchEvents(ctx.db, [webhookConsumer({ jobs: noJobs })], clock);
    await ctx.request.patch(`${API}/webhooks/${owner.id}`).set('Authorization', owner.auth).send({ isActive: false }).expect(200);
    const { id } = await deliveryOf(owner.id, eventId);
    const client = createWebhookClient({ allowIps: ['127.0.0.1'] });
    expect(await deliverWebhook({ db: ctx.db, config: ctx.config, jobs: noJobs, client, logger: createLogger(ctx.config) }, { deliveryId: id }, { clock })).toBe('failed');
    client.close();
    expect(await deliveryOf(owner.id, eventId)).toMatchObject({ status: 'FAILED', attempts: 0, lastError: 'Not sent: the endpoint is disabled' });
    expect(owner.target.requests()).toHaveLength(0);
  });
});

describe('exactly once', () => {
  it('writes one delivery per event when two dispatchers race, and the receiver gets each event once', async () => {
    const owner = await endpointOwner();
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await recordFor(owner.user.id, 'wallet.credited'));
    const consumers = eventConsumers(ctx, ctx.runner);
    await Promise.all([dispatchEvents(ctx.db, consumers, clock, { batchSize: 5 }), dispatchEvents(ctx.db, consumers, clock, { batchSize: 5 })]);
    expect(await ctx.db.webhookDelivery.count({ where: { eventId: { in: ids } } })).toBe(20);
    await owner.target.waitFor(20);
    await expect.poll(() => ctx.db.webhookDelivery.count({ where: { eventId: { in: ids }, status: 'SUCCEEDED' } })).toBe(20);
    await new Promise((r) => setTimeout(r, 300));
    expect(owner.target.requests().map((r) => r.id).sort()).toEqual([...ids].sort());
  });

  it('makes one attempt however many jobs run for a delivery at once', async () => {
    const owner = await endpointOwner();
    const eventId = await recordFor(owner.user.id, 'instance.running');
    await dispatchEvents(ctx.db, [webhookConsumer({ jobs: noJobs })], clock);
    const { id } = await deliveryOf(owner.id, eventId);
    const client = createWebhookClient({ allowIps: ['127.0.0.1'] });
    const deps = { db: ctx.db, config: ctx.config, jobs: noJobs, client, logger: createLogger(ctx.config) };
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => deliverWebhook(deps, { deliveryId: id }, { clock })));
    client.close();
    expect(outcomes.sort()).toEqual(['skipped', 'skipped', 'skipped', 'skipped', 'succeeded']);
    expect(owner.target.requests()).toHaveLength(1);
    expect(await deliveryOf(owner.id, eventId)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
  });

  it('queues a delivery whose job was lost from the minute sweep, once it is overdue', async () => {
    const owner = await endpointOwner();
    const eventId = await recordFor(owner.user.id, 'subscription.created');
    // The commit happened; the process died before queueing the job.
    await dispatchEvents(ctx.db, [webhookConsumer({ jobs: noJobs })], clock);
    expect(await sweepDeliveries(ctx.db, ctx.runner, clock)).toMatchObject({ requeued: 0 });
    offsetMs = 2 * 60_000;
    expect((await sweepDeliveries(ctx.db, ctx.runner, clock)).requeued).toBeGreaterThanOrEqual(1);
    await owner.target.waitFor(1);
    await settled(owner.id, eventId, 'SUCCEEDED', 1);
    expect(await sweepDeliveries(ctx.db, ctx.runner, clock)).toMatchObject({ requeued: 0 });
  });
});

describe('POST /api/v1/webhooks/:id/deliveries/:deliveryId/retry', () => {
  it('sends a failed delivery again with the same event id', async () => {
    const owner = await endpointOwner();
    const eventId = await recordFor(owner.user.id, 'instance.failed');
    await dispatchEvents(ctx.db, [webhookConsumer({ jobs: noJobs })], clock);
    const { id } = await deliveryOf(owner.id, eventId);
    // As if its ten attempts had failed.
    await ctx.db.webhookDelivery.update({ where: { id }, data: { status: 'FAILED', attempts: 10, nextAttemptAt: null, lastError: 'HTTP 500' } });
    const res = await ctx.request.post(`${API}/webhooks/${owner.id}/deliveries/${id}/retry`).set('Authorization', owner.auth).expect(200);
    expect(res.body.data).toMatchObject({ id, status: 'PENDING' });
    const [request] = await owner.target.waitFor(1);
    expect(request!.id).toBe(eventId);
    expect(verifies(request!, owner.secret)).toBe(true);
    await settled(owner.id, eventId, 'SUCCEEDED', 11);
  });
});

describe('retention', () => {
  // Last in the file: the sweep it runs, 31 days ahead, deletes every finished delivery of this database.
  it('deletes finished deliveries with their attempts after 30 days, and never a pending one', async () => {
    const owner = await endpointOwner();
    const done = await owner.sendTest();
    await settled(owner.id, done, 'SUCCEEDED', 1);
    const waiting = await recordFor(owner.user.id, 'instance.stopped');
    await dispatchEvents(ctx.db, [webhookConsumer({ jobs: noJobs })], clock);
    const later: Clock = { now: () => new Date(Date.now() + 31 * 86_400_000) };
    const swept = await sweepDeliveries(ctx.db, noJobs, later);
    expect(swept.deleted).toBeGreaterThanOrEqual(1);
    expect(await ctx.db.webhookDelivery.count({ where: { webhookId: owner.id, eventId: done } })).toBe(0);
    expect(await ctx.db.webhookAttempt.count({ where: { delivery: { webhookId: owner.id } } })).toBe(0);
    expect((await deliveryOf(owner.id, waiting)).status).toBe('PENDING');
  });
});
