// The `jobs` scenario: 10,000 jobs sent and completed through the real queue (pg-boss on the
// bench database, the runner the API uses, run here as a second process's runner would be), and
// the heartbeat rate while they run, against the heartbeat rate without them measured right before
// and right after (the machine's speed drifts).
import pg from 'pg';
import { createJobRunner, defineQueue } from '../src/lib/jobs.js';
import { createLogger } from '../src/lib/logger.js';
import { loadConfig } from '../src/lib/config.js';
import { runLoad, type LoadResult } from './load.js';
import type { Report, Row } from './report.js';
import type { Scenario } from './scenarios.js';

const QUEUE = 'bench.noop';
export const JOB_COUNT = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function jobsPhase(databaseUrl: string, heartbeat: Scenario, report: Report, log: (line: string) => void): Promise<void> {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', LOG_FILES: 'false', JWT_SECRET: 'x'.repeat(32), DATA_DIR: '.data/bench' });
  const runner = createJobRunner({
    url: databaseUrl,
    schema: config.jobs.schema,
    // The handler does nothing: what is measured is the queue itself (send, fetch, complete).
    queues: () => [defineQueue({ name: QUEUE, policy: 'standard', retryLimit: 0, retryDelay: 0, retryBackoff: false, expireInSeconds: 60, deadLetter: false, workers: 1, batchSize: 250, handler: async () => undefined })],
    logger: createLogger(config),
    timezone: 'UTC',
    pollIntervalSeconds: 0.5,
    graceMs: 5000,
  });
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined);
  await client.connect();
  await runner.start();
  try {
    const completed = async () => Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM pgboss.job WHERE name = $1 AND state = 'completed'`, [QUEUE])).rows[0]?.n ?? 0);
    /** Sends JOB_COUNT jobs in batches of 1,000 and resolves when all are completed, with the seconds it took and the latencies. */
    const batch = async () => {
      const before = await completed();
      const t0 = Date.now();
      const sentAt = new Date();
      for (let i = 0; i < JOB_COUNT; i += 1000) {
        await runner.boss.insert(Array.from({ length: Math.min(1000, JOB_COUNT - i) }, (_, k) => ({ name: QUEUE, data: { n: i + k } })));
        runner.wake(QUEUE);
      }
      while ((await completed()) - before < JOB_COUNT) await sleep(50);
      const seconds = (Date.now() - t0) / 1000;
      const { rows } = await client.query<{ p50: number; p90: number; p99: number; max: number }>(
        `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.9) WITHIN GROUP (ORDER BY ms) AS p90,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max
           FROM (SELECT extract(epoch FROM completed_on - created_on) * 1000 AS ms FROM pgboss.job WHERE name = $1 AND state = 'completed' AND created_on >= $2) j`,
        [QUEUE, sentAt],
      );
      const l = rows[0] ?? { p50: 0, p90: 0, p99: 0, max: 0 };
      const result: LoadResult = { requests: JOB_COUNT, rps: Math.round(JOB_COUNT / seconds), p50: Math.round(l.p50), p90: Math.round(l.p90), p99: Math.round(l.p99), max: Math.round(l.max), non2xx: 0, errors: 0, timeouts: 0, seconds };
      return result;
    };

    log(`jobs: ${JOB_COUNT} jobs through pg-boss (one worker taking up to 250 a poll, every 0.5 s), alone`);
    const alone = await batch();
    // The heartbeat window must lie inside the jobs' run, which is slower under load than alone.
    const window = Math.max(2, Math.floor(alone.seconds * 0.8));
    const warmup = 1;
    const hb = (w: number) => runLoad({ ...heartbeat.spec, duration: window, warmup: w });
    log(`heartbeat alone, ${window}s`);
    const before = await hb(warmup);
    log(`heartbeat during ${JOB_COUNT} jobs, ${window}s`);
    const load = hb(warmup);
    await sleep(warmup * 1000);
    const during = await batch();
    const withJobs = await load;
    log(`heartbeat alone again, ${window}s`);
    const after = await hb(warmup);

    const baseline = (before.rps + after.rps) / 2;
    const row = (scenario: string, description: string, r: LoadResult, extra: Partial<Row> = {}): Row => ({ scenario, description, ...r, ...extra });
    report.rows.push(
      row('jobs', `${JOB_COUNT} no-op jobs sent and completed through pg-boss (latency: send to completion)`, alone),
      row('jobs-during-heartbeats', `the same, while heartbeats run`, during),
      row('heartbeat-during-jobs', `heartbeats while ${JOB_COUNT} jobs run; "ceiling" here is heartbeats alone, before and after`, withJobs, { ceilingRps: Math.round(baseline), ofCeiling: Math.round((withJobs.rps / baseline) * 1000) / 10 }),
    );
    report.notes.push(`jobs: heartbeats alone ran at ${Math.round(before.rps)} req/s before and ${Math.round(after.rps)} after the run with jobs`);
  } finally {
    await runner.stop();
    await client.end();
  }
}
