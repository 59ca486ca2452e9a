import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../src/lib/crypto.js';
import { recordEvent } from '../../src/lib/events.js';
import { createAdmin, createUser, unique } from '../factories/index.js';
import { createTestContext, type TestContext } from '../helpers/app.js';

let ctx: TestContext;
beforeAll(() => {
  ctx = createTestContext();
});
afterAll(() => ctx.close());

const API = '/api/v1';
const fieldsOf = (res: { body: { errors?: { field: string }[] } }) => (res.body.errors ?? []).map((e) => e.field);
const hookUrl = () => `https://${unique('hooks')}.example.com/minispod`;

async function owner() {
  const { user, auth } = await createUser(ctx.db, ctx.config);
  const create = (body: object = {}) => ctx.request.post(`${API}/webhooks`).set('Authorization', auth).send({ url: hookUrl(), ...body });
  return { user, auth, create };
}

/** A delivery with one failed attempt, as the delivery job would have left it. */
async function failedDelivery(webhookId: string, userId: string, status: 'PENDING' | 'FAILED' = 'FAILED') {
  const eventId = await recordEvent(ctx.db, { type: 'subscription.renewed', userId, subjectType: 'subscription', subjectId: unique('sub') });
  return ctx.db.webhookDelivery.create({
    data: {
      webhookId,
      eventId,
      eventType: 'subscription.renewed',
      status,
      attempts: 1,
      responseStatus: 500,
      lastError: 'HTTP 500',
      lastAttemptAt: new Date(),
      attemptLog: { create: { number: 1, startedAt: new Date(), durationMs: 12, responseStatus: 500, responseBody: 'boom', error: 'HTTP 500' } },
    },
  });
}

describe('POST /api/v1/webhooks', () => {
  it('creates an endpoint and shows its whsec_ secret once, stored only sealed', async () => {
    const { user, auth, create } = await owner();
    const url = hookUrl();
    const res = await create({ url, description: 'Billing system', events: ['subscription.renewed', 'subscription.renewed', 'wallet.credited'] });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ url, description: 'Billing system', events: ['subscription.renewed', 'wallet.credited'], isActive: true, consecutiveFailures: 0, previousSecretExpiresAt: null });
    const secret = res.body.data.secret as string;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);

    const row = await ctx.db.webhook.findUniqueOrThrow({ where: { id: res.body.data.id } });
    expect(row.userId).toBe(user.id);
    expect(row.secretSealed).not.toContain(secret.slice(6));
    expect(createSecretBox(ctx.config.encryptionKey).open(row.secretSealed, `webhook-secret:${user.id}`)).toBe(secret);

    const again = await ctx.request.get(`${API}/webhooks/${row.id}`).set('Authorization', auth).expect(200);
    expect(again.body.data).not.toHaveProperty('secret');
    expect(JSON.stringify(again.body)).not.toContain(secret);
    const list = await ctx.request.get(`${API}/webhooks`).set('Authorization', auth).expect(200);
    expect(JSON.stringify(list.body)).not.toContain(secret);
    expect(JSON.stringify(list.body)).not.toContain('Sealed');
  });

  it('refuses unknown and internal event types, unknown keys, and non-https URLs', async () => {
    const { create } = await owner();
    expect(fieldsOf(await create({ events: ['user.password_changed'] }).expect(400))).toEqual(['events.0']);
    expect(fieldsOf(await create({ events: ['webhook.test'] }).expect(400))).toEqual(['events.0']);
    expect(fieldsOf(await create({ secret: 'whsec_mine' }).expect(400))).toContain('secret');
    const http = await create({ url: 'http://example.com/hook' }).expect(400);
    expect(http.body.errors).toEqual([{ field: 'url', message: 'The URL must be an https URL' }]);
    expect(fieldsOf(await create({ url: 'https://user:pw@example.com/hook' }).expect(400))).toEqual(['url']);
  });

  describe('refuses, at creation, a URL that points at this network', () => {
    const cases = [
      ['127.0.0.1', 'https://127.0.0.1/hook'],
      ['localhost', 'https://localhost:8443/hook'],
      ['[::1]', 'https://[::1]/hook'],
      ['169.254.169.254 (cloud metadata)', 'https://169.254.169.254/latest/meta-data/'],
      ['10.0.0.1', 'https://10.0.0.1/hook'],
      ['2130706433 (127.0.0.1 as one number)', 'https://2130706433/hook'],
      ['0x7f.1 (127.0.0.1 in hex)', 'https://0x7f.1/hook'],
      ['an IPv4-mapped IPv6 address', 'https://[::ffff:127.0.0.1]/hook'],
    ] as const;
    it.each(cases)('%s', async (_name, url) => {
      const { user, create } = await owner();
      const res = await create({ url }).expect(400);
      expect(fieldsOf(res)).toEqual(['url']);
      expect(res.body.errors[0].message).toMatch(/must not point at/);
      expect(await ctx.db.webhook.count({ where: { userId: user.id } })).toBe(0);
    });
  });

  it('allows ten endpoints per account, also when twelve are created at once', async () => {
    const { user, create } = await owner();
    const results = await Promise.all(Array.from({ length: 12 }, () => create()));
    expect(results.map((r) => r.status).sort()).toEqual([...Array(10).fill(201), 409, 409]);
    expect(results.find((r) => r.status === 409)?.body.code).toBe('CONFLICT');
    expect(await ctx.db.webhook.count({ where: { userId: user.id } })).toBe(10);
    expect((await create()).status).toBe(409);
  });
});

describe('GET, PATCH and DELETE /api/v1/webhooks/:id', () => {
  it('lists only the caller\'s endpoints, with filters and pagination', async () => {
    const a = await owner();
    const b = await owner();
    const first = (await a.create({ description: 'first' }).expect(201)).body.data;
    const second = (await a.create({ description: 'second' }).expect(201)).body.data;
    await b.create().expect(201);
    await ctx.request.patch(`${API}/webhooks/${second.id}`).set('Authorization', a.auth).send({ isActive: false }).expect(200);

    const all = await ctx.request.get(`${API}/webhooks?sortOrder=asc`).set('Authorization', a.auth).expect(200);
    expect(all.body.data.webhooks.map((w: { id: string }) => w.id)).toEqual([first.id, second.id]);
    expect(all.body.data.pagination).toMatchObject({ page: 1, total: 2, totalPages: 1 });
    const paused = await ctx.request.get(`${API}/webhooks?isActive=false`).set('Authorization', a.auth).expect(200);
    expect(paused.body.data.webhooks.map((w: { id: string }) => w.id)).toEqual([second.id]);
    const found = await ctx.request.get(`${API}/webhooks?search=FIRST`).set('Authorization', a.auth).expect(200);
    expect(found.body.data.webhooks.map((w: { id: string }) => w.id)).toEqual([first.id]);
  });

  it('updates the URL, filter and description; pausing and enabling again clear the failure state', async () => {
    const { auth, create } = await owner();
    const hook = (await create().expect(201)).body.data;
    const patch = (body: object) => ctx.request.patch(`${API}/webhooks/${hook.id}`).set('Authorization', auth).send(body);
    const url = hookUrl();
    expect((await patch({ url, events: ['instance.running'], description: '' }).expect(200)).body.data).toMatchObject({ url, events: ['instance.running'], description: null });
    expect(fieldsOf(await patch({ url: 'https://10.0.0.1/x' }).expect(400))).toEqual(['url']);
    expect((await patch({}).expect(400)).body.code).toBe('VALIDATION_ERROR');

    expect((await patch({ isActive: false }).expect(200)).body.data).toMatchObject({ isActive: false, disabledReason: 'Paused by its owner' });
    await ctx.db.webhook.update({ where: { id: hook.id }, data: { consecutiveFailures: 5, disabledReason: '5 deliveries in a row failed' } });
    expect((await patch({ isActive: true }).expect(200)).body.data).toMatchObject({ isActive: true, disabledReason: null, disabledAt: null, consecutiveFailures: 0 });
  });

  it('deletes an endpoint with its deliveries', async () => {
    const { user, auth, create } = await owner();
    const hook = (await create().expect(201)).body.data;
    const delivery = await failedDelivery(hook.id, user.id);
    expect((await ctx.request.delete(`${API}/webhooks/${hook.id}`).set('Authorization', auth).expect(200)).body.data.id).toBe(hook.id);
    expect(await ctx.db.webhook.findUnique({ where: { id: hook.id } })).toBeNull();
    expect(await ctx.db.webhookDelivery.findUnique({ where: { id: delivery.id } })).toBeNull();
    await ctx.request.get(`${API}/webhooks/${hook.id}`).set('Authorization', auth).expect(404);
  });
});

describe('POST /api/v1/webhooks/:id/rotate-secret', () => {
  it('answers a new secret once and keeps the previous one for 24 hours', async () => {
    const { user, auth, create } = await owner();
    const created = (await create().expect(201)).body.data;
    const before = Date.now();
    const res = await ctx.request.post(`${API}/webhooks/${created.id}/rotate-secret`).set('Authorization', auth).expect(200);
    expect(res.body.data.secret).toMatch(/^whsec_/);
    expect(res.body.data.secret).not.toBe(created.secret);
    const expires = new Date(res.body.data.previousSecretExpiresAt).getTime();
    expect(expires).toBeGreaterThanOrEqual(before + 86_400_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 86_400_000);
    const row = await ctx.db.webhook.findUniqueOrThrow({ where: { id: created.id } });
    const box = createSecretBox(ctx.config.encryptionKey);
    expect(box.open(row.secretSealed, `webhook-secret:${user.id}`)).toBe(res.body.data.secret);
    expect(box.open(row.previousSecretSealed as string, `webhook-secret:${user.id}`)).toBe(created.secret);
  });
});

describe('POST /api/v1/webhooks/:id/test', () => {
  it('records a webhook.test event naming this endpoint, and refuses a disabled one', async () => {
    const { user, auth, create } = await owner();
    const hook = (await create().expect(201)).body.data;
    const res = await ctx.request.post(`${API}/webhooks/${hook.id}/test`).set('Authorization', auth).expect(202);
    expect(res.body.data).toEqual({ eventId: expect.stringMatching(/^evt_/), type: 'webhook.test' });
    const event = await ctx.db.domainEvent.findUniqueOrThrow({ where: { id: res.body.data.eventId } });
    expect(event).toMatchObject({ type: 'webhook.test', userId: user.id, subjectType: 'webhook', subjectId: hook.id, data: { webhookId: hook.id } });

    await ctx.request.patch(`${API}/webhooks/${hook.id}`).set('Authorization', auth).send({ isActive: false }).expect(200);
    expect((await ctx.request.post(`${API}/webhooks/${hook.id}/test`).set('Authorization', auth).expect(409)).body.code).toBe('CONFLICT');
  });
});

describe('deliveries', () => {
  it('lists an endpoint\'s deliveries with their attempts, filtered by status and event type', async () => {
    const { user, auth, create } = await owner();
    const hook = (await create().expect(201)).body.data;
    const failed = await failedDelivery(hook.id, user.id);
    const pending = await failedDelivery(hook.id, user.id, 'PENDING');
    const res = await ctx.request.get(`${API}/webhooks/${hook.id}/deliveries?sortOrder=asc`).set('Authorization', auth).expect(200);
    expect(res.body.data.deliveries.map((d: { id: string }) => d.id)).toEqual([failed.id, pending.id]);
    expect(res.body.data.deliveries[0]).toMatchObject({ status: 'FAILED', attempts: 1, responseStatus: 500, attemptLog: [{ number: 1, responseStatus: 500, responseBody: 'boom', error: 'HTTP 500', durationMs: 12 }] });
    const onlyFailed = await ctx.request.get(`${API}/webhooks/${hook.id}/deliveries?status=FAILED`).set('Authorization', auth).expect(200);
    expect(onlyFailed.body.data.deliveries.map((d: { id: string }) => d.id)).toEqual([failed.id]);
    const other = await ctx.request.get(`${API}/webhooks/${hook.id}/deliveries?eventType=instance.running`).set('Authorization', auth).expect(200);
    expect(other.body.data.deliveries).toEqual([]);
  });

  it('retries a finished delivery once, now, and refuses one still on its schedule', async () => {
    const { user, auth, create } = await owner();
    const hook = (await create().expect(201)).body.data;
    const failed = await failedDelivery(hook.id, user.id);
    const pending = await failedDelivery(hook.id, user.id, 'PENDING');
    const retry = (id: string) => ctx.request.post(`${API}/webhooks/${hook.id}/deliveries/${id}/retry`).set('Authorization', auth);
    const res = await retry(failed.id).expect(200);
    expect(res.body.data).toMatchObject({ id: failed.id, status: 'PENDING', attempts: 1 });
    expect(await ctx.db.webhookDelivery.findUniqueOrThrow({ where: { id: failed.id } })).toMatchObject({ status: 'PENDING', maxAttempts: 2 });
    expect((await retry(pending.id).expect(409)).body.code).toBe('CONFLICT');
    await retry('no-such-delivery').expect(404);
  });
});

describe('another user\'s endpoints', () => {
  it('are 404 on every route, and unchanged', async () => {
    const a = await owner();
    const b = await owner();
    const hook = (await a.create().expect(201)).body.data;
    const delivery = await failedDelivery(hook.id, a.user.id);
    const as = (method: 'get' | 'patch' | 'delete' | 'post', path: string) => ctx.request[method](`${API}/webhooks/${hook.id}${path}`).set('Authorization', b.auth);
    await as('get', '').expect(404);
    await as('patch', '').send({ isActive: false }).expect(404);
    await as('delete', '').expect(404);
    await as('post', '/rotate-secret').expect(404);
    await as('post', '/test').expect(404);
    await as('get', '/deliveries').expect(404);
    await as('post', `/deliveries/${delivery.id}/retry`).expect(404);
    // Nor can a delivery of A's be reached through an endpoint of B's.
    const own = (await b.create().expect(201)).body.data;
    await ctx.request.post(`${API}/webhooks/${own.id}/deliveries/${delivery.id}/retry`).set('Authorization', b.auth).expect(404);
    expect((await ctx.request.get(`${API}/webhooks`).set('Authorization', b.auth).expect(200)).body.data.webhooks.map((w: { id: string }) => w.id)).toEqual([own.id]);

    const row = await ctx.db.webhook.findUniqueOrThrow({ where: { id: hook.id } });
    expect(row).toMatchObject({ isActive: true, previousSecretSealed: null });
    expect(await ctx.db.domainEvent.count({ where: { type: 'webhook.test', subjectId: hook.id } })).toBe(0);
    expect((await ctx.db.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } })).status).toBe('FAILED');
  });

  it('need a signed-in user', async () => {
    await ctx.request.get(`${API}/webhooks`).expect(401);
    await ctx.request.post(`${API}/webhooks`).send({ url: hookUrl() }).expect(401);
  });
});

describe('GET /api/v1/admin/webhook-deliveries', () => {
  it('lists failing deliveries across users for administrators only', async () => {
    const a = await owner();
    const b = await owner();
    const hookA = (await a.create().expect(201)).body.data;
    const hookB = (await b.create().expect(201)).body.data;
    const failedA = await failedDelivery(hookA.id, a.user.id);
    const retryingB = await failedDelivery(hookB.id, b.user.id, 'PENDING');
    const admin = await createAdmin(ctx.db, ctx.config);
    await ctx.request.get(`${API}/admin/webhook-deliveries`).set('Authorization', a.auth).expect(403);

    const list = (query: string) => ctx.request.get(`${API}/admin/webhook-deliveries?limit=100${query}`).set('Authorization', admin.auth).expect(200);
    const forA = await list(`&userId=${a.user.id}`);
    expect(forA.body.data.deliveries).toEqual([expect.objectContaining({ id: failedA.id, status: 'FAILED', userId: a.user.id, webhookUrl: hookA.url })]);
    const forB = await list(`&webhookId=${hookB.id}`);
    expect(forB.body.data.deliveries.map((d: { id: string }) => d.id)).toEqual([retryingB.id]);
    expect((await list(`&webhookId=${hookB.id}&status=FAILED`)).body.data.deliveries).toEqual([]);
    const all = await list('');
    const ids = all.body.data.deliveries.map((d: { id: string }) => d.id);
    expect(ids).toEqual(expect.arrayContaining([failedA.id, retryingB.id]));
  });
});
