import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin, createUser } from '../factories/index.js';
import { createJobsContext, type JobsContext } from '../helpers/jobs-context.js';
import { deadLetterOf, defineQueue, type JobContext, type QueueSpec } from '../../src/lib/jobs.js';
import { createLogger } from '../../src/lib/logger.js';
import { declareQueues } from '../../src/queues.js';

const METRICS_TOKEN = 'metrics-token-for-the-jobs-test';
/** Calls of the test queues' handlers, by job id, across every runner of this file. */
const calls = new Map<string, number>();
const released = new Set<string>();
const gatheredRuns = new Map<string, number>();
const signalRuns = { n: 0 };
const seen = (ctx: JobContext) => calls.set(ctx.jobId, (calls.get(ctx.jobId) ?? 0) + 1);

const testQueue = (name: string, spec: Partial<QueueSpec> & Pick<QueueSpec, 'handler'>) =>
  defineQueue({ name, policy: 'standard', retryLimit: 0, retryDelay: 0, retryBackoff: false, expireInSeconds: 60, deadLetter: true, ...spec } as QueueSpec);

let ctx: JobsContext;
beforeAll(async () => {
  ctx = await createJobsContext({
    env: { METRICS_TOKEN },
    queues: (deps, jobs) => [
      ...declareQueues(deps, jobs),
      testQueue('test.fails', {
        retryLimit: 2,
        handler: async (_data, c) => {
          seen(c);
          throw new Error('always fails');
        },
      }),
      testQueue('test.count', {
        workers: 2,
        batchSize: 10,
        handler: async (_data, c) => {
          seen(c);
        },
      }),
      testQueue('test.gathered', {
        workers: 2,
        batchSize: 20,
        handler: async (data) => {
          const { key } = data as { key: string };
          gatheredRuns.set(key, (gatheredRuns.get(key) ?? 0) + 1);
        },
      }),
      testQueue('test.signal', {
        policy: 'short',
        handler: async () => {
          signalRuns.n++;
        },
      }),
      testQueue('test.blocks', {
        retryLimit: 3,
        handler: async (data, c) => {
          seen(c);
          // Returns once the test releases it, or at once on a retry.
          const { key } = data as { key: string };
          while (!released.has(key) && (calls.get(c.jobId) ?? 0) < 2) await new Promise((r) => setTimeout(r, 20));
        },
      }),
    ],
  });
});
afterAll(() => ctx.close());

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('job queues (pg-boss on the app database)', () => {
  it('retries a job that throws up to its limit, then moves it to its dead-letter queue', async () => {
    const id = (await ctx.runner.send('test.fails', { n: 1 })) as string;
    const job = await until(
      () => ctx.runner.boss.getJobById('test.fails', id),
      (j) => j?.state === 'failed',
    );
    expect(job?.retryCount).toBe(2);
    expect(calls.get(id)).toBe(3);
    const dead = await until(
      () => ctx.runner.boss.fetch(deadLetterOf('test.fails')),
      (jobs) => jobs.length === 1,
    );
    expect(dead[0]?.data).toEqual({ n: 1 });
  });

  it('runs each job once when two processes work the same queue', async () => {
    const second = await ctx.startRunner();
    const ids = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? ctx.runner : second).send('test.count', { i })));
    await until(
      async () => ids.filter((id) => calls.has(id as string)).length,
      (n) => n === ids.length,
    );
    // Give a duplicate, if there were one, the time to happen.
    await new Promise((r) => setTimeout(r, 1500));
    expect(ids.map((id) => calls.get(id as string))).toEqual(ids.map(() => 1));
    await second.stop();
  });

  it('lets a job in flight finish within the shutdown grace', async () => {
    const other = await ctx.startRunner({ graceMs: 10_000 });
    await ctx.runner.boss.offWork('test.blocks');
    const id = (await other.send('test.blocks', { key: 'finish' })) as string;
    await until(async () => calls.get(id) ?? 0, (n) => n === 1);
    const stopping = other.stop();
    setTimeout(() => released.add('finish'), 300);
    await stopping;
    const job = await ctx.runner.boss.getJobById('test.blocks', id);
    expect(job?.state).toBe('completed');
  });

  it('hands a job still running after the grace to the next process, which runs it again', async () => {
    const dying = await ctx.startRunner({ graceMs: 1000 });
    const id = (await dying.send('test.blocks', { key: 'never' })) as string;
    await until(async () => calls.get(id) ?? 0, (n) => n === 1);
    await dying.stop();
    expect((await ctx.runner.boss.getJobById('test.blocks', id))?.state).toBe('retry');
    // The next process to start picks it up.
    const next = await ctx.startRunner();
    const job = await until(
      () => ctx.runner.boss.getJobById('test.blocks', id),
      (j) => j?.state === 'completed',
    );
    expect(job?.retryCount).toBe(1);
    expect(calls.get(id)).toBe(2);
    await next.stop();
  });

  /** The statements that inserted a queue's jobs: jobs inserted together share their transaction's created_on. */
  const inserts = async (name: string, keyPrefix?: string) => {
    const [row] = await ctx.db.$queryRawUnsafe<{ jobs: number; statements: number }[]>(
      `SELECT count(*)::int AS jobs, count(DISTINCT created_on)::int AS statements FROM "${ctx.config.jobs.schema}".job WHERE name = $1 AND ($2::text IS NULL OR data->>'key' LIKE $2 || '%')`,
      name,
      keyPrefix ?? null,
    );
    return row as { jobs: number; statements: number };
  };

  it('gathers the triggers made while a send is on its way into one statement, and runs each job once', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `burst-${i}`);
    for (const key of keys) ctx.runner.trigger('test.gathered', { key });
    await until(async () => keys.filter((k) => gatheredRuns.has(k)).length, (n) => n === keys.length);
    // The first goes alone and at once; the 39 made meanwhile go together after it.
    expect(await inserts('test.gathered', 'burst-')).toEqual({ jobs: 40, statements: 2 });
    expect(keys.map((k) => gatheredRuns.get(k))).toEqual(keys.map(() => 1));
  });

  it('sends a burst of signals as at most two jobs, and a later signal as a job of its own', async () => {
    for (let i = 0; i < 50; i++) ctx.runner.trigger('test.signal');
    await until(async () => signalRuns.n, (n) => n >= 1);
    await new Promise((r) => setTimeout(r, 300));
    const burst = await inserts('test.signal');
    expect(burst.jobs).toBeGreaterThanOrEqual(1);
    expect(burst.jobs).toBeLessThanOrEqual(2);
    const runs = signalRuns.n;
    ctx.runner.trigger('test.signal');
    await until(async () => signalRuns.n, (n) => n > runs);
    expect((await inserts('test.signal')).jobs).toBe(burst.jobs + 1);
  });

  it('sends what its triggers gathered before it stops', async () => {
    const other = await ctx.startRunner({ work: false });
    for (let i = 0; i < 10; i++) other.trigger('test.gathered', { key: `stopping-${i}` });
    await other.stop();
    expect((await inserts('test.gathered', 'stopping-')).jobs).toBe(10);
  });

  it('schedules the cron queues in BILLING_TIMEZONE', async () => {
    const schedules = await ctx.runner.boss.getSchedules();
    const byName = new Map(schedules.map((s) => [s.name, s]));
    expect(byName.get('events.dispatch')).toMatchObject({ cron: '* * * * *', options: expect.objectContaining({ tz: 'Asia/Jakarta' }) });
    expect(byName.get('auth.cleanup')).toMatchObject({ cron: '17 * * * *' });
    expect(byName.has('email.send')).toBe(false);
  });

  it('deletes expired refresh tokens and day-old email tokens in the hourly auth.cleanup job, by its clock', async () => {
    const { user } = await createUser(ctx.db, ctx.config);
    const now = Date.now();
    await ctx.db.refreshToken.createMany({
      data: [
        { tokenHash: `expired-${user.id}`, familyId: 'f1', userId: user.id, expiresAt: new Date(now + 3_600_000) },
        { tokenHash: `valid-${user.id}`, familyId: 'f2', userId: user.id, expiresAt: new Date(now + 30 * 86_400_000) },
      ],
    });
    await ctx.db.accountToken.createMany({
      data: [
        { eventId: `evt_old_${user.id}`, userId: user.id, purpose: 'RESET_PASSWORD', email: user.email, tokenHash: `old-${user.id}`, expiresAt: new Date(now + 3_600_000) },
        { eventId: `evt_new_${user.id}`, userId: user.id, purpose: 'VERIFY_EMAIL', email: user.email, tokenHash: `new-${user.id}`, expiresAt: new Date(now + 3 * 86_400_000) },
      ],
    });
    const cleanup = ctx.runner.queues.find((q) => q.name === 'auth.cleanup');
    // Two days on: the first refresh token has expired, the first email token expired more than a day ago.
    const clock = { now: () => new Date(now + 2 * 86_400_000) };
    const run = () => cleanup?.handler({}, { clock, logger: createLogger(ctx.config), jobId: 'test', retryCount: 0, lastAttempt: false });
    await run();
    expect((await ctx.db.refreshToken.findMany({ where: { userId: user.id } })).map((t) => t.familyId)).toEqual(['f2']);
    expect((await ctx.db.accountToken.findMany({ where: { userId: user.id } })).map((t) => t.purpose)).toEqual(['VERIFY_EMAIL']);
    // Idempotent: a second run finds nothing more of this user's to delete.
    await run();
    expect(await ctx.db.refreshToken.count({ where: { userId: user.id } })).toBe(1);
  });

  it('GET /admin/jobs counts each queue for administrators and refuses users', async () => {
    const admin = await createAdmin(ctx.db, ctx.config);
    const { auth } = await createUser(ctx.db, ctx.config);
    await ctx.request.get('/api/v1/admin/jobs').set('Authorization', auth).expect(403);
    const res = await ctx.request.get('/api/v1/admin/jobs').set('Authorization', admin.auth).expect(200);
    const queues = res.body.data.queues as { name: string }[];
    expect(queues.map((q) => q.name)).toEqual(expect.arrayContaining(['events.dispatch', 'email.send', 'auth.cleanup', 'test.fails']));
    expect(queues.find((q) => q.name === 'test.fails')).toEqual({ name: 'test.fails', queued: 0, active: 0, completed: 0, failed: 1, deadLettered: 1, oldestQueuedSeconds: null });
    expect(queues.find((q) => q.name === 'test.count')).toMatchObject({ completed: 60, failed: 0, deadLettered: 0 });

    const metrics = await ctx.request.get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`).expect(200);
    expect(metrics.text).toContain('minispod_jobs_failed{queue="test.fails"} 1');
    expect(metrics.text).toContain('minispod_jobs_dead_lettered{queue="test.fails"} 1');
    expect(metrics.text).toContain('minispod_jobs_completed{queue="test.count"} 60');
    expect(metrics.text).toMatch(/minispod_jobs_queued\{queue="email.send"\} 0/);
  });
  it('yields to a busy process: while it is busy its jobs start one at a time, 100 ms apart; when it is not, together', async () => {
    let busy = true;
    const runs: { at: number; running: number }[] = [];
    let running = 0;
    const runner = await ctx.startRunner({
      busy: () => busy,
      only: () => [
        testQueue('test.yields', {
          batchSize: 20,
          concurrency: 5,
          handler: async () => {
            runs.push({ at: Date.now(), running: ++running });
            await new Promise((r) => setTimeout(r, 150));
            running--;
          },
        }),
      ],
    });
    await runner.sendMany('test.yields', Array.from({ length: 5 }, (_, i) => ({ data: { i } })));
    runner.wake('test.yields');
    await until(async () => runs.length, (n) => n === 5);
    const gaps = runs.slice(1).map((r, i) => r.at - (runs[i] as { at: number }).at);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(95);
    await until(async () => running, (n) => n === 0);
    busy = false;
    const before = runs.length;
    await runner.sendMany('test.yields', Array.from({ length: 5 }, (_, i) => ({ data: { i } })));
    runner.wake('test.yields');
    await until(async () => runs.length, (n) => n === before + 5);
    // Five lanes, each job 150 ms long: not spaced, they overlap.
    expect(Math.max(...runs.slice(before).map((r) => r.running))).toBeGreaterThan(1);
    await runner.stop();
  });
});
