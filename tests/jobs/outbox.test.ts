import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchEvents, recordEvent } from '../../src/lib/events.js';
import { noJobs, type Clock } from '../../src/lib/jobs.js';
import { createLogger } from '../../src/lib/logger.js';
import { createMailer, emailConsumer, requeueLostEmails, sendEmailMessage } from '../../src/modules/notifications/index.js';
import { eventConsumers } from '../../src/queues.js';
import { createService, createUser, unique } from '../factories/index.js';
import { testConfig } from '../helpers/app.js';
import { createJobsContext, type JobsContext } from '../helpers/jobs-context.js';
import { startTestSmtp, type TestSmtp } from '../helpers/smtp.js';

let ctx: JobsContext;
let smtp: TestSmtp;
beforeAll(async () => {
  smtp = await startTestSmtp();
  // Dispatch only when a test says so: no after-commit trigger reaches these events, and the
  // minute's safety net is far off for tests this short.
  ctx = await createJobsContext({ env: { SMTP_URL: smtp.url } });
});
afterAll(async () => {
  await ctx.close();
  await smtp.close();
});

const clock: Clock = { now: () => new Date() };
const later = (ms: number): Clock => ({ now: () => new Date(Date.now() + ms) });

/** `count` users, each with one undispatched password_changed event. */
async function eventsFor(count: number) {
  const users = await Promise.all(Array.from({ length: count }, () => createUser(ctx.db, ctx.config, { email: `${unique('outbox')}@example.test` })));
  const ids = await Promise.all(users.map(({ user }) => recordEvent(ctx.db, { type: 'user.password_changed', userId: user.id, subjectType: 'user', subjectId: user.id, data: { by: 'self' } })));
  return { users: users.map((u) => u.user), ids };
}

const messagesFor = (eventIds: string[]) => ctx.db.emailMessage.findMany({ where: { eventId: { in: eventIds } } });

describe('the outbox', () => {
  it('writes an event only with the change it describes', async () => {
    const { user } = await createUser(ctx.db, ctx.config);
    const body = { name: 'Taken', email: user.email, password: 'SecurePass123!', confirmPassword: 'SecurePass123!' };
    // A taken address is answered as a new one (201), but the registration's insert failed with
    // the rest of its transaction: no user.registered event (its owner gets another one).
    await ctx.request.post('/api/v1/auth/register').send(body).expect(201);
    expect(await ctx.db.domainEvent.count({ where: { type: 'user.registered', userId: user.id } })).toBe(0);

    const res = await ctx.request.post('/api/v1/auth/register').send({ ...body, email: `${unique('fresh')}@example.test` }).expect(201);
    const events = await ctx.db.domainEvent.findMany({ where: { userId: res.body.data.user.id } });
    expect(events).toEqual([expect.objectContaining({ type: 'user.registered', subjectType: 'user', subjectId: res.body.data.user.id, id: expect.stringMatching(/^evt_/) })]);
  });

  it('yields one email per event when two dispatchers race', async () => {
    // The dispatch the registration above triggered runs in the runner: on a loaded machine it
    // can still be going, and would take some of these events from the two dispatchers.
    await expect.poll(() => ctx.db.domainEvent.count({ where: { dispatchedAt: null } }), { timeout: 15_000 }).toBe(0);
    const { users, ids } = await eventsFor(25);
    const consumers = eventConsumers(ctx, ctx.runner);
    const [a, b] = await Promise.all([dispatchEvents(ctx.db, consumers, clock, { batchSize: 5 }), dispatchEvents(ctx.db, consumers, clock, { batchSize: 5 })]);
    expect(a + b).toBeGreaterThanOrEqual(25);
    const rows = await messagesFor(ids);
    expect(rows).toHaveLength(25);
    expect(await ctx.db.domainEvent.count({ where: { id: { in: ids }, dispatchedAt: null } })).toBe(0);
    await smtp.waitFor(() => users.every((u) => smtp.to(u.email).length > 0));
    // A second pass, and the queue's own handlers, add nothing.
    await dispatchEvents(ctx.db, consumers, clock);
    await expect.poll(async () => (await messagesFor(ids)).every((m) => m.status === 'SENT')).toBe(true);
    expect(users.map((u) => smtp.to(u.email).length)).toEqual(users.map(() => 1));
  });

  it('leaves nothing behind from a dispatcher that dies before its commit; the next one delivers once', async () => {
    const { users, ids } = await eventsFor(3);
    const consumers = eventConsumers(ctx, ctx.runner);
    const crash = dispatchEvents(ctx.db, consumers, clock, {
      beforeMark: async () => {
        throw new Error('killed between writing the emails and marking the events');
      },
    });
    await expect(crash).rejects.toThrow(/killed/);
    expect(await messagesFor(ids)).toHaveLength(0);
    expect(await ctx.db.domainEvent.count({ where: { id: { in: ids }, dispatchedAt: null } })).toBe(3);

    await dispatchEvents(ctx.db, consumers, clock);
    await smtp.waitFor(() => users.every((u) => smtp.to(u.email).length === 1));
    expect(await messagesFor(ids)).toHaveLength(3);
  });

  it("writes each of a batch's billing emails from its own subscription", async () => {
    // One batch, one read of the subscriptions: every email must still name its own owner,
    // service and period, and an event whose subscription is gone falls back to its user.
    const owners = await Promise.all(Array.from({ length: 4 }, () => createUser(ctx.db, ctx.config, { email: `${unique('batch')}@example.test` })));
    const subs = await Promise.all(
      owners.map(async ({ user }, i) => {
        const service = await createService(ctx.db, { displayName: `Batch App ${i} ${unique()}` });
        const sub = await ctx.db.subscription.create({ data: { userId: user.id, serviceId: service.id, status: 'ACTIVE', currentPeriodEnd: new Date(Date.UTC(2027, i, 10)) } });
        return { user, service, sub };
      }),
    );
    const event = (userId: string, subscriptionId: string, i: number) =>
      recordEvent(ctx.db, { type: 'subscription.renewed', userId, subjectType: 'subscription', subjectId: subscriptionId, data: { subscriptionId, amount: 1000 * (i + 1), transactionNumber: `TRX-TEST-${i}`, periodEnd: new Date(Date.UTC(2027, i, 10)).toISOString() } });
    const ids = await Promise.all(subs.map(({ user, sub }, i) => event(user.id, sub.id, i)));
    const orphan = await createUser(ctx.db, ctx.config, { email: `${unique('orphan')}@example.test` });
    ids.push(await event(orphan.user.id, 'no-such-subscription', 9));

    await dispatchEvents(ctx.db, [emailConsumer({ config: ctx.config, jobs: noJobs })], clock);
    const rows = await messagesFor(ids);
    expect(rows.map((m) => ({ eventId: m.eventId, to: m.recipient, subject: m.subject, status: m.status })).sort((a, b) => ids.indexOf(a.eventId) - ids.indexOf(b.eventId))).toEqual([
      ...subs.map(({ user, service }, i) => ({ eventId: ids[i], to: user.email, subject: `${service.displayName} renewed`, status: 'PENDING' })),
      { eventId: ids[4], to: orphan.user.email, subject: ' renewed', status: 'PENDING' },
    ]);
    // What is sent is prepared again from the same rows: each owner's own service and receipt.
    const sent = await Promise.all(rows.map((m) => sendEmailMessage({ db: ctx.db, config: ctx.config, mailer: ctx.mailer, logger: createLogger(ctx.config) }, { messageId: m.id }, { clock, lastAttempt: false })));
    expect(sent).toEqual(rows.map(() => 'sent'));
    await smtp.waitFor(() => subs.every(({ user }) => smtp.to(user.email).length === 1));
    subs.forEach(({ user, service }, i) => {
      const text = smtp.to(user.email)[0]?.text ?? '';
      expect(text).toContain(`Your ${service.displayName} subscription was renewed`);
      expect(text).toContain(`TRX-TEST-${i}`);
    });
  });

  it('sends what a dispatcher committed but could not queue, once, from the safety net', async () => {
    const { users, ids } = await eventsFor(2);
    // The commit happened; the process died before queueing the send jobs.
    await dispatchEvents(ctx.db, [emailConsumer({ config: ctx.config, jobs: noJobs })], clock);
    expect((await messagesFor(ids)).map((m) => m.status)).toEqual(['PENDING', 'PENDING']);
    // Not yet lost: a job may still be on its way.
    expect(await requeueLostEmails(ctx.db, ctx.runner, clock)).toBe(0);
    expect(await requeueLostEmails(ctx.db, ctx.runner, later(120_000))).toBeGreaterThanOrEqual(2);
    await smtp.waitFor(() => users.every((u) => smtp.to(u.email).length === 1));
    await expect.poll(async () => (await messagesFor(ids)).map((m) => m.status)).toEqual(['SENT', 'SENT']);
    expect(await requeueLostEmails(ctx.db, ctx.runner, later(120_000))).toBe(0);
  });
});

describe('email.send', () => {
  const deps = () => ({ db: ctx.db, config: ctx.config, mailer: ctx.mailer, logger: createLogger(ctx.config) });

  async function pendingMessage() {
    const { users, ids } = await eventsFor(1);
    await dispatchEvents(ctx.db, [emailConsumer({ config: ctx.config, jobs: noJobs })], clock);
    const [message] = await messagesFor(ids);
    return { user: users[0]!, message: message! };
  }

  it('sends a message once however many jobs run for it at the same time', async () => {
    const { user, message } = await pendingMessage();
    const results = await Promise.all(Array.from({ length: 5 }, () => sendEmailMessage(deps(), { messageId: message.id }, { clock, lastAttempt: false })));
    expect(results.filter((r) => r === 'sent')).toHaveLength(1);
    expect(await sendEmailMessage(deps(), { messageId: message.id }, { clock, lastAttempt: false })).toBe('skipped');
    await smtp.waitFor(() => smtp.to(user.email).length === 1);
    const row = await ctx.db.emailMessage.findUniqueOrThrow({ where: { id: message.id } });
    expect(row).toMatchObject({ status: 'SENT', attempts: 1, lastError: null, lockedUntil: null });
    expect(smtp.to(user.email)[0]?.messageId).toBe(`<${message.id}@minispod>`);
  });

  it('records a refused send for a retry, and marks the message FAILED with the SMTP error on the last attempt', async () => {
    const { user, message } = await pendingMessage();
    smtp.refuseNext(2, 451, 'Mailbox busy, try later');
    await expect(sendEmailMessage(deps(), { messageId: message.id }, { clock, lastAttempt: false })).rejects.toThrow(/451/);
    expect(await ctx.db.emailMessage.findUniqueOrThrow({ where: { id: message.id } })).toMatchObject({ status: 'PENDING', attempts: 1, lockedUntil: null, lastError: expect.stringContaining('Mailbox busy') });
    await expect(sendEmailMessage(deps(), { messageId: message.id }, { clock, lastAttempt: true })).rejects.toThrow(/451/);
    expect(await ctx.db.emailMessage.findUniqueOrThrow({ where: { id: message.id } })).toMatchObject({ status: 'FAILED', attempts: 2, lastError: expect.stringContaining('451') });
    expect(smtp.to(user.email)).toHaveLength(0);
    // A FAILED message is not sent by a later job.
    expect(await sendEmailMessage(deps(), { messageId: message.id }, { clock, lastAttempt: false })).toBe('skipped');
  });
});

describe('the development mailbox (no SMTP_URL)', () => {
  it('writes each message as an .eml file under DATA_DIR/mail', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'minispod-mail-'));
    try {
      const config = testConfig({ DATA_DIR: dataDir, DATABASE_URL: ctx.databaseUrl });
      const mailer = createMailer({ config, logger: createLogger(config) });
      expect(mailer.describe()).toContain(path.join(dataDir, 'mail'));
      const sent = await mailer.send({ to: 'dev@example.test', subject: 'Hello <dev>', text: 'plain', html: '<p>html</p>', messageId: '<m1@minispod>' });
      expect(sent.filePath?.startsWith(path.join(dataDir, 'mail'))).toBe(true);
      const parsed = await simpleParser(fs.readFileSync(sent.filePath as string));
      expect({ subject: parsed.subject, text: parsed.text?.trim(), html: parsed.html, messageId: parsed.messageId }).toEqual({ subject: 'Hello <dev>', text: 'plain', html: '<p>html</p>', messageId: '<m1@minispod>' });
      expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.text : '').toBe('dev@example.test');
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
