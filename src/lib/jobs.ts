import PgBoss from 'pg-boss';
import type { z } from 'zod';
import { reportError } from './http/index.js';
import type { Db } from './db.js';
import type { Logger } from './logger.js';

/** Handlers read the time from here, never from `new Date()`, so tests drive time instead of sleeping. */
export interface Clock {
  now: () => Date;
}
export const systemClock: Clock = { now: () => new Date() };

export interface JobContext {
  clock: Clock;
  logger: Logger;
  jobId: string;
  /** How many times this job failed before this attempt. */
  retryCount: number;
  /** True when a failure now sends the job to its dead-letter queue instead of retrying it. */
  lastAttempt: boolean;
  /** A job that works in batches awaits this between them: it waits while the process is busy with requests (see YIELD_MAX_MS). */
  quiet?: () => Promise<void>;
}

/** Queue policies of pg-boss: `short` keeps one job waiting, `stately` one per state and key. */
export type QueuePolicy = 'standard' | 'short' | 'singleton' | 'stately';

export interface QueueSpec<D extends object = object> {
  name: string;
  /** The job data's schema: a job whose data does not parse fails (and is dead-lettered) without reaching the handler. */
  data?: z.ZodType<D>;
  policy: QueuePolicy;
  retryLimit: number;
  /** Seconds before the first retry; doubled each time with `retryBackoff`. */
  retryDelay: number;
  retryBackoff: boolean;
  /** A job still active after this long is failed (and retried): a process that died holding it. */
  expireInSeconds: number;
  /** Failed jobs are copied to `<name>.dead`, where they stay for an operator to inspect. */
  deadLetter: boolean;
  /** A cron expression, evaluated in the configured time zone. */
  cron?: string;
  /** How many of this queue's jobs one process runs at once. */
  workers?: number;
  /** Jobs fetched at once by a worker and run one after another; with `workers`, it bounds the queue's rate per polling interval. */
  batchSize?: number;
  /** How many jobs of one fetch run at the same time (handlers that mostly wait on the network); 1, one after another, by default. */
  concurrency?: number;
  handler: (data: D, ctx: JobContext) => Promise<unknown>;
}

/** Builds a queue spec with its data type inferred from the handler. */
export const defineQueue = <D extends object>(spec: QueueSpec<D>): QueueSpec => spec as unknown as QueueSpec;

export const deadLetterOf = (name: string) => `${name}.dead`;

export interface SendOptions {
  singletonKey?: string;
  startAfter?: Date | number;
}

/** What request handlers and services may do with the queues. */
export interface JobQueue {
  send: (name: string, data?: object, options?: SendOptions) => Promise<string | null>;
  /** Sends many jobs to one queue in one statement (each still subject to the queue's policy). */
  sendMany: (name: string, jobs: readonly ({ data: object } & SendOptions)[]) => Promise<void>;
  /**
   * Sends and wakes this process's workers of the queue; failures are logged, never thrown. The
   * first trigger of a queue sends at once; those made while it is on its way are gathered and sent
   * after it in one statement (a trigger without data or options, a signal, only once), so a burst
   * of commits costs a statement per round trip instead of one each.
   */
  trigger: (name: string, data?: object, options?: SendOptions) => void;
  /** Asks this process's workers of the queue to fetch now instead of at their next poll. */
  wake: (name: string) => void;
}

/** A JobQueue for an app that runs no jobs (tests of routes only): work waits for a runner's safety-net pass. */
export const noJobs: JobQueue = { send: async () => null, sendMany: async () => undefined, trigger: () => undefined, wake: () => undefined };

export interface QueueStats {
  name: string;
  queued: number;
  active: number;
  completed: number;
  failed: number;
  deadLettered: number;
  oldestQueuedSeconds: number | null;
}

export interface JobRunner extends JobQueue {
  start: () => Promise<void>;
  /** Stops fetching, lets jobs in flight finish within `graceMs`; what is still running then is retried by the next process. */
  stop: () => Promise<void>;
  readonly queues: readonly QueueSpec[];
  readonly boss: PgBoss;
}

export interface JobRunnerOptions {
  url: string;
  schema: string;
  /** The queues, given the runner itself (handlers that queue follow-up work send through it). */
  queues: (jobs: JobQueue) => QueueSpec[];
  logger: Logger;
  clock?: Clock;
  timezone: string;
  pollIntervalSeconds: number;
  graceMs: number;
  /** false: the queues can be sent to and inspected, but this process runs no handler. */
  work?: boolean;
  /** True while this process is busy answering requests: each job then waits for a quiet moment first (see YIELD_MAX_MS). */
  busy?: () => boolean;
}

/**
 * Requests come first: while `busy()` says the process is answering many requests, its jobs start
 * one at a time, YIELD_SPACING_MS apart (a job that works in batches waits likewise before each
 * further batch: JobContext.quiet), so a burst of purchases is not slowed by its own receipts and
 * provisioning, which catch up once it has passed. No job waits longer than YIELD_MAX_MS.
 */
const YIELD_SPACING_MS = 100;
const YIELD_MAX_MS = 5000;
const YIELD_CHECK_MS = 25;

/** How long a queue's triggers gather after a send before the next one (see JobQueue.trigger). */
const GATHER_MS = 20;

interface Gathered {
  jobs: ({ data: object } & SendOptions)[];
  /** A signal (a trigger without data) is among `jobs`: further signals add nothing. */
  signalled: boolean;
  running?: Promise<void>;
}

/**
 * pg-boss on the application's own PostgreSQL, in its own schema: no Redis, and any number of API
 * processes share the queues (each job is fetched by one of them with SKIP LOCKED).
 */
export function createJobRunner(options: JobRunnerOptions): JobRunner {
  const { logger, clock = systemClock } = options;
  const boss = new PgBoss({
    connectionString: options.url,
    schema: options.schema,
    application_name: 'minispod-jobs',
    max: 4,
    // Completed jobs stay a day for GET /admin/jobs, then move to the archive.
    archiveCompletedAfterSeconds: 86_400,
    deleteAfterDays: 7,
  });
  boss.on('error', (err) => reportError(logger, err, { source: 'pg-boss' }));
  const workerIds = new Map<string, string[]>();
  let started = false;

  const send = async (name: string, data: object = {}, opts: SendOptions = {}) => {
    if (!byName.has(name)) throw new Error(`Unknown queue ${name}`);
    return boss.send(name, data, { singletonKey: opts.singletonKey, startAfter: opts.startAfter });
  };
  const sendMany = async (name: string, jobs: readonly ({ data: object } & SendOptions)[]) => {
    if (!byName.has(name)) throw new Error(`Unknown queue ${name}`);
    if (jobs.length > 0) await boss.insert(jobs.map((j) => ({ name, data: j.data, singletonKey: j.singletonKey, startAfter: j.startAfter })) as PgBoss.JobInsert[]);
  };
  const wake = (name: string) => {
    for (const id of workerIds.get(name) ?? []) boss.notifyWorker(id);
  };
  const gathered = new Map<string, Gathered>();
  let draining = false;
  /** Sends what a queue's triggers gathered, batch after batch, until none is left. */
  const drain = async (name: string, g: Gathered) => {
    while (g.jobs.length > 0) {
      const batch = g.jobs.splice(0);
      g.signalled = false;
      try {
        const [only] = batch;
        if (batch.length === 1 && only) await send(name, only.data, only);
        else await sendMany(name, batch);
        wake(name);
      } catch (err) {
        reportError(logger, err, { during: `queueing ${name}`, jobs: batch.length });
      }
      // A short pause lets the next burst gather; none when stopping.
      if (g.jobs.length === 0 && !draining) await new Promise((r) => setTimeout(r, GATHER_MS));
    }
    g.running = undefined;
  };
  const trigger = (name: string, data?: object, opts?: SendOptions) => {
    let g = gathered.get(name);
    if (!g) gathered.set(name, (g = { jobs: [], signalled: false }));
    const signal = data === undefined && opts?.singletonKey === undefined && opts?.startAfter === undefined;
    if (!signal) g.jobs.push({ data: data ?? {}, ...opts });
    else if (!g.signalled) {
      g.signalled = true;
      g.jobs.push({ data: {} });
    }
    g.running ??= drain(name, g);
  };
  /** Sends everything still gathered (before the runner stops). */
  const flushTriggers = async () => {
    draining = true;
    await Promise.all([...gathered.values()].map((g) => g.running));
  };
  const queues = options.queues({ send, sendMany, trigger, wake });
  const byName = new Map(queues.map((q) => [q.name, q]));

  let lastBusyStart = 0;
  const quietMoment = async () => {
    const { busy } = options;
    if (!busy) return;
    // Timed by the clock, not by counting checks: a loaded event loop fires timers late.
    const deadline = Date.now() + YIELD_MAX_MS;
    while (started && busy() && Date.now() - lastBusyStart < YIELD_SPACING_MS && Date.now() < deadline) await new Promise((r) => setTimeout(r, YIELD_CHECK_MS));
    if (busy()) lastBusyStart = Date.now();
  };

  /**
   * One worker's handler: the jobs of a fetch run one after another (or `concurrency` at a time),
   * each failing on its own (a failed job is failed with pg-boss's `fail`; the rest complete
   * together). A worker then waits for its polling interval, so without `busy` a backlog never
   * takes more than workers × batchSize jobs per interval from the process's CPU; with it, jobs
   * give way to requests instead and a full fetch is followed by the next at once. Work this
   * process queues wakes it at once.
   */
  const worker = (spec: QueueSpec) => async (jobs: PgBoss.JobWithMetadata<object>[]) => {
    const run = async (job: PgBoss.JobWithMetadata<object>) => {
      await quietMoment();
      const ctx: JobContext = { clock, logger, jobId: job.id, retryCount: job.retryCount, lastAttempt: job.retryCount >= job.retryLimit, quiet: quietMoment };
      try {
        await spec.handler(spec.data ? spec.data.parse(job.data) : job.data, ctx);
      } catch (err) {
        reportError(logger, err, { job: spec.name, jobId: job.id, attempt: job.retryCount + 1 });
        await boss.fail(spec.name, job.id, { message: err instanceof Error ? err.message : String(err) });
      }
    };
    let next = 0;
    const lane = async () => {
      while (next < jobs.length) await run(jobs[next++] as PgBoss.JobWithMetadata<object>);
    };
    await Promise.all(Array.from({ length: Math.min(spec.concurrency ?? 1, jobs.length) }, lane));
    // A runner whose jobs give way to requests (busy) drains a backlog without waiting for the
    // next poll: a full fetch is followed by another at once.
    if (options.busy && jobs.length >= (spec.batchSize ?? 1)) wake(spec.name);
  };

  return {
    boss,
    queues,
    send,
    sendMany,
    trigger,
    wake,
    start: async () => {
      await boss.start();
      started = true;
      draining = false;
      for (const spec of queues) {
        const settings = { retryLimit: spec.retryLimit, retryDelay: spec.retryDelay, retryBackoff: spec.retryBackoff, expireInSeconds: spec.expireInSeconds };
        let deadLetter: string | undefined;
        if (spec.deadLetter) {
          deadLetter = deadLetterOf(spec.name);
          await ensureQueue(boss, { name: deadLetter, policy: 'standard', retentionDays: 30 });
        }
        await ensureQueue(boss, { name: spec.name, policy: spec.policy, ...(deadLetter ? { deadLetter } : {}), ...settings });
      }
      if (options.work === false) return;
      for (const spec of queues) {
        const ids: string[] = [];
        for (let i = 0; i < (spec.workers ?? 1); i++) {
          ids.push(await boss.work(spec.name, { includeMetadata: true, batchSize: spec.batchSize ?? 1, pollingIntervalSeconds: options.pollIntervalSeconds }, worker(spec)));
        }
        workerIds.set(spec.name, ids);
        if (spec.cron) await boss.schedule(spec.name, spec.cron, {}, { tz: options.timezone });
        else await boss.unschedule(spec.name);
      }
    },
    stop: async () => {
      if (!started) return;
      started = false;
      await flushTriggers();
      await boss.stop({ graceful: true, wait: true, timeout: Math.max(1000, options.graceMs) });
    },
  };
}

/** createQueue, or updateQueue when it exists, so a changed declaration takes effect on the next start. */
async function ensureQueue(boss: PgBoss, queue: PgBoss.Queue): Promise<void> {
  const { name, ...settings } = queue;
  if (await boss.getQueue(name)) await boss.updateQueue(name, { name, ...settings });
  else {
    try {
      await boss.createQueue(name, queue);
    } catch (err) {
      // Another process created it between the two calls.
      if (!(await boss.getQueue(name))) throw err;
    }
  }
}

interface StatsRow {
  name: string;
  queued: number;
  active: number;
  completed: number;
  failed: number;
  oldest: number | null;
}

/** What stats need of a queue declaration. */
export type QueueInfo = Pick<QueueSpec, 'name' | 'deadLetter'>;

/**
 * Counts by state straight from pg-boss's job table, in one grouped scan (completed jobs stay a
 * day before they are archived). Zeros before pg-boss has created its schema.
 */
export async function queueStats(db: Db, schema: string, queues: readonly QueueInfo[]): Promise<QueueStats[]> {
  const names = queues.flatMap((q) => (q.deadLetter ? [q.name, deadLetterOf(q.name)] : [q.name]));
  const [installed] = await db.$queryRaw<{ table: string | null }[]>`SELECT to_regclass(${`${schema}.job`})::text AS table`;
  // The schema name comes from validated config (a plain identifier), never from a request.
  const rows = installed?.table
    ? await db.$queryRawUnsafe<StatsRow[]>(
        `SELECT name,
            count(*) FILTER (WHERE state IN ('created', 'retry'))::int AS queued,
            count(*) FILTER (WHERE state = 'active')::int AS active,
            count(*) FILTER (WHERE state = 'completed')::int AS completed,
            count(*) FILTER (WHERE state = 'failed')::int AS failed,
            extract(epoch FROM now() - min(created_on) FILTER (WHERE state IN ('created', 'retry') AND start_after <= now()))::float8 AS oldest
          FROM "${schema}".job WHERE name = ANY($1::text[]) GROUP BY name`,
        names,
      )
    : [];
  const found = new Map(rows.map((r) => [r.name, r]));
  return queues.map((q) => {
    const row = found.get(q.name);
    const dead = q.deadLetter ? found.get(deadLetterOf(q.name)) : undefined;
    return {
      name: q.name,
      queued: row?.queued ?? 0,
      active: row?.active ?? 0,
      completed: row?.completed ?? 0,
      failed: row?.failed ?? 0,
      deadLettered: dead ? dead.queued + dead.active + dead.completed + dead.failed : 0,
      oldestQueuedSeconds: row?.oldest == null ? null : Math.round(row.oldest),
    };
  });
}
