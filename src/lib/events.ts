import { randomBytes } from 'node:crypto';
import type { Db, DbClient, Prisma } from './db.js';
import type { Clock } from './jobs.js';
import type { RawClient } from './sql-transaction.js';

/**
 * The transactional outbox. A change and the DomainEvent that describes it are written in one
 * transaction; the dispatcher later turns each event into its emails (and webhook deliveries),
 * exactly once, however many processes dispatch at the same time.
 */

export interface NewEvent {
  type: string;
  userId?: string | null;
  subjectType: string;
  subjectId: string;
  data?: Prisma.InputJsonObject;
}

export interface EventRow {
  id: string;
  type: string;
  userId: string | null;
  subjectType: string;
  subjectId: string;
  data: Prisma.JsonValue;
  occurredAt: Date;
}

/** `evt_` + a time-ordered, random id: sortable in logs, unguessable, and the `webhook-id` of its deliveries. */
export const newEventId = (now = new Date()) => `evt_${now.getTime().toString(36).padStart(9, '0')}${randomBytes(10).toString('hex')}`;

/** Writes an event inside the caller's transaction (Prisma's or sqlTransaction's); returns its id. */
export async function recordEvent(tx: RawClient, event: NewEvent, now = new Date()): Promise<string> {
  const id = newEventId(now);
  // occurredAt is a timestamp(3) holding UTC wall time: the ISO text's zone is dropped by the cast.
  await tx.$executeRawUnsafe(
    `INSERT INTO domain_events (id, type, "userId", "subjectType", "subjectId", data, "occurredAt") VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::timestamp)`,
    id,
    event.type,
    event.userId ?? null,
    event.subjectType,
    event.subjectId,
    JSON.stringify(event.data ?? {}),
    now.toISOString(),
  );
  return id;
}

/**
 * Something derived from events (emails, webhook deliveries). `consume` runs inside the
 * dispatcher's transaction and must write only rows that a unique key makes idempotent; what it
 * returns runs after the commit (for example queueing the jobs that send what it wrote). A
 * consumer may take a whole batch at once instead (`consumeBatch`): the dispatcher's transaction
 * then waits for one statement per batch rather than one per event.
 */
export type AfterCommit = (() => Promise<void>) | void;
export type EventConsumer = { name: string } & (
  | { consume: (tx: DbClient, event: EventRow, clock: Clock) => Promise<AfterCommit>; consumeBatch?: never }
  | { consumeBatch: (tx: DbClient, events: EventRow[], clock: Clock) => Promise<AfterCommit>; consume?: never }
);

export interface DispatchOptions {
  batchSize?: number;
  /** For tests: runs inside the transaction after the consumers, before the events are marked. */
  beforeMark?: (events: EventRow[]) => Promise<void>;
  /** Awaited before each batch after the first (the job runner's JobContext.quiet). */
  between?: () => Promise<void>;
}

/**
 * Dispatches every undispatched event, oldest first, in batches. Each batch is claimed with
 * `FOR UPDATE SKIP LOCKED`, so two dispatchers never take the same event, and the consumers' rows
 * and the `dispatchedAt` mark commit together: a dispatcher that dies halfway leaves the events
 * undispatched and their rows unwritten, for the next run. Returns how many were dispatched.
 */
export async function dispatchEvents(db: Db, consumers: readonly EventConsumer[], clock: Clock, options: DispatchOptions = {}): Promise<number> {
  const batchSize = options.batchSize ?? 100;
  let total = 0;
  for (let batch = 0; ; batch++) {
    if (batch > 0) await options.between?.();
    const after: (() => Promise<void>)[] = [];
    const count = await db.$transaction(
      async (tx) => {
        const events = await tx.$queryRaw<EventRow[]>`
          SELECT id, type, "userId", "subjectType", "subjectId", data, "occurredAt" FROM domain_events
          WHERE "dispatchedAt" IS NULL ORDER BY "occurredAt", id LIMIT ${batchSize} FOR UPDATE SKIP LOCKED`;
        for (const consumer of consumers) {
          if (consumer.consumeBatch) {
            const then = events.length > 0 ? await consumer.consumeBatch(tx, events, clock) : undefined;
            if (then) after.push(then);
            continue;
          }
          for (const event of events) {
            const then = await consumer.consume(tx, event, clock);
            if (then) after.push(then);
          }
        }
        await options.beforeMark?.(events);
        if (events.length > 0) await tx.domainEvent.updateMany({ where: { id: { in: events.map((e) => e.id) } }, data: { dispatchedAt: clock.now() } });
        return events.length;
      },
      { timeout: 30_000 },
    );
    for (const then of after) await then();
    total += count;
    if (count < batchSize) return total;
  }
}
