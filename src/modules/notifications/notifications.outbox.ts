import type { Db } from '../../lib/db.js';
import type { EventConsumer, EventRow } from '../../lib/events.js';
import type { Clock, JobContext, JobQueue } from '../../lib/jobs.js';
import type { Logger } from '../../lib/logger.js';
import { newId } from '../../lib/ids.js';
import { readSubscriptionContexts } from './notifications.billing.js';
import { EMAILS_BY_EVENT, renderPrepared, TEMPLATES, type EmailDeps } from './notifications.emails.js';
import type { Mailer } from './notifications.mailer.js';

export const EMAIL_QUEUE = 'email.send';
/** How long a send attempt holds its message: longer than nodemailer's connection and socket timeouts together. */
const LEASE_MS = 3 * 60_000;
/** A message still unattempted after this long lost its job (a crash right after the dispatcher's commit). */
const LOST_AFTER_MS = 60_000;

// singletonKey + the queue's `stately` policy: a message never has two jobs waiting.
const sendJob = (id: string) => ({ data: { messageId: id }, singletonKey: id });
const queueSends = async (jobs: JobQueue, ids: string[]) => {
  await jobs.sendMany(EMAIL_QUEUE, ids.map(sendJob));
  jobs.wake(EMAIL_QUEUE);
};
/** After the dispatcher's commit: triggered, so the messages of a batch of events go in one statement. */
const triggerSends = (jobs: JobQueue, ids: string[]) => {
  for (const id of ids) {
    const { data, ...options } = sendJob(id);
    jobs.trigger(EMAIL_QUEUE, data, options);
  }
};

// The messages of a whole dispatch batch in one statement (Prisma would compile and run one per
// event). Ids have the form of Prisma's cuid; timestamps are timestamp(3) holding UTC wall time.
const INSERT_MESSAGES_SQL = `INSERT INTO email_messages (id, "eventId", template, recipient, subject, status, attempts, "createdAt", "updatedAt")
  SELECT m.id, m."eventId", m.template, m.recipient, m.subject, 'PENDING', 0, $6::timestamp, $6::timestamp
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS m(id, "eventId", template, recipient, subject)
  ON CONFLICT ("eventId", template) DO NOTHING
  RETURNING id`;

/**
 * The dispatcher's email side: each event's templates become EmailMessage rows, unique per
 * (event, template), and their send jobs are queued after the commit. A batch's billing emails
 * read their subscriptions in one statement, and its messages are written in one.
 */
export function emailConsumer(deps: EmailDeps & { jobs: JobQueue }): EventConsumer {
  return {
    name: 'email',
    consumeBatch: async (tx, events, clock) => {
      const withEmails = events.filter((e) => (EMAILS_BY_EVENT[e.type] ?? []).length > 0);
      if (withEmails.length === 0) return undefined;
      const prepareDeps: EmailDeps = { ...deps, subscriptions: await readSubscriptionContexts(tx, withEmails) };
      const rows: { eventId: string; template: string; to: string; subject: string }[] = [];
      for (const event of withEmails) {
        for (const template of EMAILS_BY_EVENT[event.type] ?? []) {
          const prepared = await template.prepare(tx, event, prepareDeps);
          if (prepared) rows.push({ eventId: event.id, template: template.name, to: prepared.to, subject: prepared.content.subject });
        }
      }
      if (rows.length === 0) return undefined;
      const created = await tx.$queryRawUnsafe<{ id: string }[]>(
        INSERT_MESSAGES_SQL,
        rows.map(() => newId()),
        rows.map((r) => r.eventId),
        rows.map((r) => r.template),
        rows.map((r) => r.to),
        rows.map((r) => r.subject),
        clock.now().toISOString(),
      );
      return created.length > 0 ? async () => triggerSends(deps.jobs, created.map((r) => r.id)) : undefined;
    },
  };
}

/** The safety net's email side: queues messages whose job was lost between a commit and its queueing. */
export async function requeueLostEmails(db: Db, jobs: JobQueue, clock: Clock): Promise<number> {
  const lost = await db.emailMessage.findMany({
    where: { status: 'PENDING', attempts: 0, lockedUntil: null, createdAt: { lt: new Date(clock.now().getTime() - LOST_AFTER_MS) } },
    select: { id: true },
    orderBy: { createdAt: 'asc' },
    take: 500,
  });
  if (lost.length > 0) await queueSends(jobs, lost.map((m) => m.id));
  return lost.length;
}

export interface SendDeps extends EmailDeps {
  db: Db;
  mailer: Mailer;
  logger: Logger;
}

/**
 * The `email.send` handler. One conditional UPDATE leases the message, so however many jobs exist
 * for it only one sends at a time, and a sent message is never sent again. A failure is recorded
 * and rethrown for the queue's backoff; on the last attempt the message becomes FAILED.
 */
export async function sendEmailMessage(deps: SendDeps, { messageId }: { messageId: string }, ctx: Pick<JobContext, 'clock' | 'lastAttempt'>): Promise<'sent' | 'skipped'> {
  const { db } = deps;
  const now = ctx.clock.now();
  const claim = await db.emailMessage.updateMany({
    where: { id: messageId, status: 'PENDING', OR: [{ lockedUntil: null }, { lockedUntil: { lt: now } }] },
    data: { lockedUntil: new Date(now.getTime() + LEASE_MS), attempts: { increment: 1 } },
  });
  if (claim.count === 0) return 'skipped';
  const message = await db.emailMessage.findUniqueOrThrow({ where: { id: messageId }, include: { event: true } });
  try {
    const template = TEMPLATES.get(message.template);
    if (!template) throw new Error(`Unknown email template ${message.template}`);
    const prepared = await template.prepare(db, message.event as EventRow, deps);
    if (!prepared) {
      // What the email was about is gone (the account was deactivated meanwhile): nothing to send.
      await db.emailMessage.update({ where: { id: messageId }, data: { status: 'FAILED', lockedUntil: null, lastError: 'No longer applicable when sent' } });
      return 'skipped';
    }
    const sent = await deps.mailer.send({ ...renderPrepared(prepared), to: message.recipient, messageId: `<${message.id}@minispod>` });
    await db.emailMessage.update({
      where: { id: messageId },
      data: { status: 'SENT', sentAt: ctx.clock.now(), lockedUntil: null, lastError: null, providerMessageId: sent.providerMessageId ?? null, filePath: sent.filePath ?? null },
    });
    return 'sent';
  } catch (err) {
    const error = (err instanceof Error ? err.message : String(err)).slice(0, 1000);
    await db.emailMessage.update({ where: { id: messageId }, data: { lockedUntil: null, lastError: error, ...(ctx.lastAttempt ? { status: 'FAILED' } : {}) } });
    throw err;
  }
}
