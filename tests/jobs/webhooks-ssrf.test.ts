import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../src/lib/crypto.js';
import { recordEvent } from '../../src/lib/events.js';
import { noJobs, systemClock } from '../../src/lib/jobs.js';
import { createLogger } from '../../src/lib/logger.js';
import { createWebhookClient, deliverWebhook, type WebhookClient } from '../../src/modules/webhooks/index.js';
import { createUser, unique } from '../factories/index.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { lookupWith, startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

// Delivery-time refusals: endpoints whose URLs creation would refuse are written straight into
// the database (as rows older than a check, or changed behind the API's back would be), so only
// the connect-time guard stands between each delivery and the address. Plain http is allowed
// here and no address is: whatever the URL says, the agent must refuse the address it resolves to.
let ctx: TestContext;
let receiver: WebhookReceiver;
let client: WebhookClient;
beforeAll(async () => {
  ctx = createTestContext({ env: { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_IPS: '' } });
  receiver = await startWebhookReceiver();
  // A name that resolves to loopback, as a hostile DNS zone would make one.
  client = createWebhookClient({ allowIps: ctx.config.webhooks.allowIps, lookup: lookupWith({ 'loopback.attacker.test': '127.0.0.1' }) });
});
afterAll(async () => {
  client.close();
  await receiver.close();
  await ctx.close();
});

async function deliveryTo(url: string) {
  const { user } = await createUser(ctx.db, ctx.config);
  const secretSealed = createSecretBox(ctx.config.encryptionKey).seal('whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', `webhook-secret:${user.id}`);
  const webhook = await ctx.db.webhook.create({ data: { userId: user.id, url, secretSealed } });
  const eventId = await recordEvent(ctx.db, { type: 'instance.running', userId: user.id, subjectType: 'instance', subjectId: unique('inst') });
  return ctx.db.webhookDelivery.create({ data: { webhookId: webhook.id, eventId, eventType: 'instance.running', nextAttemptAt: new Date() } });
}

const attempt = (deliveryId: string) => deliverWebhook({ db: ctx.db, config: ctx.config, jobs: noJobs, client, logger: createLogger(ctx.config) }, { deliveryId }, { clock: systemClock });

describe('the connect-time guard refuses, at delivery', () => {
  const port = () => receiver.port;
  const cases: [string, () => string][] = [
    ['127.0.0.1', () => `http://127.0.0.1:${port()}/x`],
    ['localhost', () => `http://localhost:${port()}/x`],
    ['[::1]', () => `http://[::1]:${port()}/x`],
    ['169.254.169.254 (cloud metadata)', () => 'http://169.254.169.254/latest/meta-data/'],
    ['10.0.0.1', () => 'http://10.0.0.1/x'],
    ['2130706433 (127.0.0.1 as one number)', () => `http://2130706433:${port()}/x`],
    ['0x7f.1 (127.0.0.1 in hex)', () => `http://0x7f.1:${port()}/x`],
    ['an IPv4-mapped IPv6 address', () => `http://[::ffff:127.0.0.1]:${port()}/x`],
    ['a hostname that resolves to loopback', () => `http://loopback.attacker.test:${port()}/x`],
  ];
  it.each(cases)('%s', async (_name, url) => {
    const delivery = await deliveryTo(url());
    expect(await attempt(delivery.id)).toBe('retrying');
    const row = await ctx.db.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id }, include: { attemptLog: true } });
    expect(row).toMatchObject({ status: 'PENDING', attempts: 1, responseStatus: null });
    expect(row.lastError).toMatch(/^Refused to connect to \S+: not a public address/);
    expect(row.attemptLog).toEqual([expect.objectContaining({ number: 1, responseStatus: null, error: row.lastError })]);
    expect(receiver.requests).toHaveLength(0);
  });

  it('and refuses credentials in a stored URL before any connection', async () => {
    const delivery = await deliveryTo(`http://user:pw@loopback.attacker.test:${receiver.port}/x`);
    expect(await attempt(delivery.id)).toBe('retrying');
    expect((await ctx.db.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } })).lastError).toBe('Refused: the URL must not contain credentials (user or password)');
    expect(receiver.requests).toHaveLength(0);
  });

  it('while the same receiver is reached once its address is allowed (the refusals above are the guard, not a dead receiver)', async () => {
    const allowed = createWebhookClient({ allowIps: ['127.0.0.1'], lookup: lookupWith({ 'loopback.attacker.test': '127.0.0.1' }) });
    try {
      const delivery = await deliveryTo(`http://loopback.attacker.test:${receiver.port}/allowed`);
      const config = { ...ctx.config, webhooks: { allowHttp: true, allowIps: ['127.0.0.1'] } };
      expect(await deliverWebhook({ db: ctx.db, config, jobs: noJobs, client: allowed, logger: createLogger(ctx.config) }, { deliveryId: delivery.id }, { clock: systemClock })).toBe('succeeded');
      expect(receiver.requests.map((r) => r.path)).toEqual(['/allowed']);
    } finally {
      allowed.close();
      receiver.requests.length = 0;
    }
  });
});

describe('a signing secret that does not open', () => {
  it('fails the delivery at once, without a request, instead of retrying what can never be signed', async () => {
    const delivery = await deliveryTo(`http://loopback.attacker.test:${receiver.port}/x`);
    const other = createSecretBox(Buffer.alloc(32, 9).toString('base64')).seal('whsec_c2VjcmV0', 'webhook-secret:someone');
    await ctx.db.webhook.update({ where: { id: delivery.webhookId }, data: { secretSealed: other } });
    expect(await attempt(delivery.id)).toBe('failed');
    expect(await ctx.db.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } })).toMatchObject({ status: 'FAILED', attempts: 0, lockedUntil: null, lastError: 'Not sent: the signing secret cannot be decrypted; rotate it and retry' });
    expect(receiver.requests).toHaveLength(0);
  });
});
