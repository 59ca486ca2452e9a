import type { LookupFunction } from 'node:net';
import type { Config } from './lib/config.js';
import type { Db } from './lib/db.js';
import { dispatchEvents, type EventConsumer } from './lib/events.js';
import { defineQueue, type JobQueue, type QueueInfo, type QueueSpec } from './lib/jobs.js';
import type { Logger } from './lib/logger.js';
import { z } from './lib/zod.js';
import { deleteExpiredAccountData } from './modules/auth/index.js';
import { runDunning, runExpiry, runRenewalNotices, runRenewals, subscriptionsDeps } from './modules/subscriptions/index.js';
import { EMAIL_QUEUE, emailConsumer, requeueLostEmails, sendEmailMessage, type Mailer } from './modules/notifications/index.js';
import { createMidtransClient, expireTopups } from './modules/wallet/index.js';
import { instanceEffects, instanceQueues, INSTANCE_QUEUE_INFO, noCluster, type InstanceCluster } from './modules/instances/index.js';
import { createWebhookClient, deliverWebhook, sweepDeliveries, WEBHOOK_QUEUE, webhookConsumer } from './modules/webhooks/index.js';

/**
 * Every background queue of minispod, in one place: its name, policy, retries, backoff, expiry,
 * dead-letter queue, schedule and handler. Handlers are idempotent (a job may run twice: a
 * retry after a crash, two processes) and read the time from their context's clock.
 */

export interface QueueDeps {
  db: Db;
  config: Readonly<Config>;
  logger: Logger;
  mailer: Mailer;
  /** Tests shorten the webhook client's 15 s timeout and name hosts through their own resolver. */
  webhookClient?: { timeoutMs?: number; lookup?: LookupFunction };
  /** Where instances run; without one (K8S_MODE=off) they wait as PENDING. */
  cluster?: InstanceCluster;
}

/** The names and dead-letter flags, for GET /admin/jobs and /metrics in any process. */
export const QUEUE_INFO: readonly QueueInfo[] = [
  { name: 'events.dispatch', deadLetter: true },
  { name: EMAIL_QUEUE, deadLetter: true },
  { name: 'auth.cleanup', deadLetter: true },
  { name: 'billing.renew', deadLetter: true },
  { name: 'billing.dunning', deadLetter: true },
  { name: 'subscription.expire', deadLetter: true },
  { name: 'notify.renewal-upcoming', deadLetter: true },
  { name: 'wallet.expire-topups', deadLetter: true },
  { name: WEBHOOK_QUEUE, deadLetter: true },
  { name: 'webhook.sweep', deadLetter: true },
  ...INSTANCE_QUEUE_INFO,
];

export function eventConsumers(deps: Pick<QueueDeps, 'config'>, jobs: JobQueue): EventConsumer[] {
  return [emailConsumer({ config: deps.config, jobs }), webhookConsumer({ jobs })];
}

export function declareQueues(deps: QueueDeps, jobs: JobQueue): QueueSpec[] {
  const { db, config, logger, mailer } = deps;
  const consumers = eventConsumers(deps, jobs);
  const queues = [
    defineQueue({
      name: 'events.dispatch',
      // `short`: at most one waiting job, so a burst of commits queues one dispatch, not one each.
      policy: 'short',
      retryLimit: 5,
      retryDelay: 5,
      retryBackoff: true,
      expireInSeconds: 300,
      deadLetter: true,
      // The safety net: events whose after-commit trigger was lost (a crash) wait a minute at most.
      cron: '* * * * *',
      handler: async (_data, { clock, quiet }) => {
        const dispatched = await dispatchEvents(db, consumers, clock, { between: quiet });
        const requeued = await requeueLostEmails(db, jobs, clock);
        if (requeued > 0) logger.warn(`Outbox: ${requeued} email(s) had lost their send job and were queued again`);
        return { dispatched, requeued };
      },
    }),
    defineQueue({
      name: EMAIL_QUEUE,
      data: z.strictObject({ messageId: z.string().min(1) }),
      // `stately` with the message id as singleton key: one waiting job per message.
      policy: 'stately',
      // Six attempts over about 15 minutes (30 s, 1, 2, 4, 8 min), then FAILED with the SMTP error.
      retryLimit: 5,
      retryDelay: 30,
      retryBackoff: true,
      expireInSeconds: 240,
      deadLetter: true,
      // Up to 2 × 10 messages per polling interval from a backlog; new mail wakes the workers at once.
      workers: 2,
      batchSize: 10,
      handler: (data, ctx) => sendEmailMessage({ db, config, mailer, logger }, data, ctx),
    }),
    defineQueue({
      name: 'auth.cleanup',
      policy: 'short',
      retryLimit: 2,
      retryDelay: 60,
      retryBackoff: false,
      expireInSeconds: 300,
      deadLetter: true,
      cron: '17 * * * *',
      handler: async (_data, { clock }) => {
        const deleted = await deleteExpiredAccountData(db, clock.now());
        if (deleted.refreshTokens + deleted.accountTokens > 0) logger.info(`Cleanup: ${deleted.refreshTokens} expired refresh token(s) and ${deleted.accountTokens} old email token(s) deleted`);
        return deleted;
      },
    }),
    ...billingQueues(deps, jobs),
    ...walletQueues(deps, jobs),
    ...webhookQueues(deps, jobs),
    ...instanceQueues({ db, config, logger, cluster: deps.cluster ?? noCluster() }, jobs),
  ];
  return queues;
}

/** The subscription lifecycle's scheduled work (src/modules/subscriptions/subscriptions.billing.ts). */
function billingQueues(deps: QueueDeps, jobs: JobQueue): QueueSpec[] {
  const subs = subscriptionsDeps({ ...deps, jobs }, instanceEffects({ ...deps, jobs }));
  const daily = { policy: 'short', retryLimit: 3, retryDelay: 300, retryBackoff: true, expireInSeconds: 1800, deadLetter: true } as const;
  return [
    defineQueue({
      name: 'billing.renew',
      // Every 10 minutes; rows are locked one by one with SKIP LOCKED, so overlapping runs share the work.
      ...daily,
      retryDelay: 60,
      cron: '*/10 * * * *',
      handler: async (_data, ctx) => ({ renewed: await runRenewals(subs, ctx) }),
    }),
    defineQueue({
      name: 'billing.dunning',
      // Hourly over every PAST_DUE subscription, and at once for one user after a wallet credit.
      data: z.strictObject({ userId: z.string().min(1).max(64).optional() }),
      policy: 'standard',
      retryLimit: 3,
      retryDelay: 60,
      retryBackoff: true,
      expireInSeconds: 1800,
      deadLetter: true,
      cron: '5 * * * *',
      handler: (data, ctx) => runDunning(subs, ctx, data.userId),
    }),
    defineQueue({ name: 'subscription.expire', ...daily, cron: '30 2 * * *', handler: async (_data, ctx) => ({ expired: await runExpiry(subs, ctx) }) }),
    defineQueue({ name: 'notify.renewal-upcoming', ...daily, cron: '0 9 * * *', handler: async (_data, ctx) => ({ notified: await runRenewalNotices(subs, ctx) }) }),
  ];
}

/** Online top-ups (src/modules/wallet/wallet.topups.ts). */
function walletQueues({ db, config, logger }: QueueDeps, jobs: JobQueue): QueueSpec[] {
  const midtrans = createMidtransClient({ config: config.midtrans, logger });
  return [
    defineQueue({
      name: 'wallet.expire-topups',
      // Every 5 minutes: unpaid top-ups past their expiry are checked with Midtrans once more, then closed.
      policy: 'short',
      retryLimit: 2,
      retryDelay: 60,
      retryBackoff: false,
      expireInSeconds: 600,
      deadLetter: true,
      cron: '*/5 * * * *',
      handler: (_data, { clock }) => expireTopups({ db, config, logger, jobs, midtrans }, clock.now()),
    }),
  ];
}

/** Webhook deliveries (src/modules/webhooks): one attempt per job, retried on the delivery's own schedule. */
function webhookQueues({ db, config, logger, webhookClient }: QueueDeps, jobs: JobQueue): QueueSpec[] {
  const client = createWebhookClient({ allowIps: config.webhooks.allowIps, ...webhookClient });
  return [
    defineQueue({
      name: WEBHOOK_QUEUE,
      data: z.strictObject({ deliveryId: z.string().min(1) }),
      // Duplicate jobs of a delivery are harmless (its lease lets one attempt run), so the safety
      // net may always queue one. A failed attempt is not a failed job: the next attempt is a new
      // job at its time; pg-boss retries only jobs that broke (the database was away).
      policy: 'standard',
      retryLimit: 3,
      retryDelay: 30,
      retryBackoff: true,
      // A fetch's jobs all count as started: the last of 250, 25 at a time behind 15 s timeouts, may start 150 s after it.
      expireInSeconds: 600,
      deadLetter: true,
      // Deliveries mostly wait on receivers: up to 2 × 250 per polling interval, 2 × 25 in flight.
      workers: 2,
      batchSize: 250,
      concurrency: 25,
      handler: (data, ctx) => deliverWebhook({ db, config, jobs, client, logger }, data, ctx),
    }),
    defineQueue({
      name: 'webhook.sweep',
      policy: 'short',
      retryLimit: 2,
      retryDelay: 30,
      retryBackoff: false,
      expireInSeconds: 300,
      deadLetter: true,
      cron: '* * * * *',
      handler: async (_data, { clock }) => {
        const swept = await sweepDeliveries(db, jobs, clock);
        if (swept.requeued > 0) logger.warn(`Webhooks: ${swept.requeued} overdue delivery(ies) queued again`);
        return swept;
      },
    }),
  ];
}
