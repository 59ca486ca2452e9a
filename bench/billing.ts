// The money scenarios. `subscribe`: POST /subscriptions from 50 connections as distinct funded
// users (each pair of user and service at most once), measured like the other scenarios, after
// the same warm-up.
// `renewals`: 10,000 subscriptions due at once, renewed by the billing.renew job the API's own
// runner fetches from the queue; timed from the send to the last charge, then checked for
// exactly one renewal CHARGE each.
import pg from 'pg';
import PgBoss from 'pg-boss';
import { runLoad, type LoadResult } from './load.js';
import type { BenchOptions } from './options.js';
import type { Report } from './report.js';

const API = '/api/v1';
/**
 * Users and services whose pairs do not repeat within lcm(149, 45) = 6,705 requests: a run of
 * warm-up and measurement (10 s) buys each pair once up to 670 subscribes/s.
 */
const BUYERS = 149;
export const RENEWALS = 10_000;
/** How long subscribe and renewals wait for the API's jobs to catch up before the next scenario (backgroundCaughtUp). */
const CATCH_UP_LIMIT_MS = 180_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function login(base: string, email: string, password: string): Promise<string> {
  const res = await fetch(`${base}${API}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  const body = (await res.json()) as { data?: { tokens?: { accessToken?: string } } };
  if (!body.data?.tokens?.accessToken) throw new Error(`login of ${email} failed with ${res.status}`);
  return body.data.tokens.accessToken;
}

/** Wallets with a large balance for the given users, each with its TOPUP ledger row. */
async function fund(client: pg.Client, userIds: string[], amount: number) {
  await client.query(
    `WITH u AS (SELECT unnest($1::text[]) AS id),
     w AS (INSERT INTO wallets (id, "userId", balance, currency, "createdAt", "updatedAt")
           SELECT 'bench-wallet-' || u.id, u.id, $2, 'IDR', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC' FROM u
           ON CONFLICT ("userId") DO UPDATE SET balance = wallets.balance + $2 RETURNING id, "userId", balance)
     INSERT INTO transactions (id, number, "walletId", "userId", type, status, amount, "balanceAfter", description, "idempotencyKey", provider, "createdAt", "updatedAt")
     SELECT 'bench-topup-' || w."userId" || '-' || $2, 'TRX-' || to_char(now(), 'YYYYMM') || '-' || lpad(nextval('transaction_number_seq')::text, 6, '0'),
            w.id, w."userId", 'TOPUP', 'SUCCEEDED', $2, w.balance, 'Bench funds', 'bench-topup:' || w."userId" || ':' || $2 || ':' || clock_timestamp(), 'MANUAL',
            now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
     FROM w`,
    [userIds, amount],
  );
}

export async function subscribePhase(databaseUrl: string, api: string, users: { emails: string[]; password: string }, o: BenchOptions, report: Report, log: (line: string) => void): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const emails = users.emails.slice(0, BUYERS);
    const { rows: buyers } = await client.query<{ id: string }>(`SELECT id FROM users WHERE email = ANY($1::text[])`, [emails]);
    await fund(client, buyers.map((b) => b.id), 1_000_000_000);
    const { rows: services } = await client.query<{ id: string }>(`SELECT id FROM service_catalog WHERE status = 'ACTIVE' AND "dockerImage" IS NOT NULL AND "containerPort" IS NOT NULL ORDER BY id LIMIT 45`);
    log(`subscribe: logging in ${emails.length} funded buyers`);
    const tokens = [];
    for (let i = 0; i < emails.length; i += 8) tokens.push(...(await Promise.all(emails.slice(i, i + 8).map((e) => login(api, e, users.password)))));
    log(`subscribe: POST /subscriptions, ${o.connections} connections, ${o.duration}s, ${emails.length} users x ${services.length} services`);
    const result: LoadResult = await runLoad({
      base: api,
      connections: o.connections,
      // The warm-up runs on the same connections, continuing the same sequence of pairs, so no
      // pair is bought twice; as in the other scenarios, the process's first requests (code not
      // yet optimized, connections that never ran these statements) are not measured.
      warmup: o.warmup,
      duration: o.duration,
      method: 'POST',
      paths: [`${API}/subscriptions`],
      headers: tokens.map((t) => ({ authorization: `Bearer ${t}` })),
      bodies: services.map((s) => JSON.stringify({ serviceId: s.id })),
    });
    const { rows } = await client.query<{ subs: number; bad: number }>(
      `SELECT count(*)::int AS subs,
              (SELECT count(*)::int FROM wallets w WHERE w.balance <> (SELECT coalesce(sum(amount), 0) FROM transactions t WHERE t."userId" = w."userId" AND t.status = 'SUCCEEDED')) AS bad
       FROM subscriptions WHERE "userId" = ANY($1::text[])`,
      [buyers.map((b) => b.id)],
    );
    report.rows.push({ scenario: 'subscribe', description: `POST /subscriptions as ${emails.length} funded users over ${services.length} services`, ...result });
    report.notes.push(`subscribe: ${rows[0]?.subs} subscriptions created; wallets whose balance differs from their ledger: ${rows[0]?.bad}`);
    await backgroundCaughtUp(client, 'subscribe', report, log);
  } finally {
    await client.end();
  }
}

export async function renewalsPhase(databaseUrl: string, report: Report, log: (line: string) => void): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined);
  await client.connect();
  const boss = new PgBoss({ connectionString: databaseUrl, schema: 'pgboss', supervise: false, schedule: false, migrate: false, max: 2 });
  boss.on('error', () => undefined);
  try {
    log(`renewals: seeding ${RENEWALS} ACTIVE subscriptions due now, on funded wallets`);
    await client.query(
      `INSERT INTO service_catalog (id, name, "nameKey", slug, "displayName", category, version, status, "dockerImage", "containerPort", "monthlyPrice", currency, "cpuRequest", "cpuLimit", "memRequest", "memLimit", "createdAt", "updatedAt")
       VALUES ('bench-renewals', 'Bench Renewals', 'bench renewals', 'bench-renewals', 'Bench Renewals', 'automation', '1', 'ACTIVE', 'example/renew:1', 8080, 25000, 'IDR', '100m', '100m', '64Mi', '64Mi', now(), now())
       ON CONFLICT DO NOTHING`,
    );
    const { rows: users } = await client.query<{ id: string }>(`SELECT id FROM users WHERE role = 'USER' ORDER BY id LIMIT $1`, [RENEWALS]);
    await fund(client, users.map((u) => u.id), 30_000);
    await client.query(
      `INSERT INTO subscriptions (id, "userId", "serviceId", status, "startDate", "createdAt", "updatedAt", "currentPeriodStart", "currentPeriodEnd", "billingAnchorDay", "priceAmount", currency)
       SELECT 'bench-renew-' || u.id, u.id, 'bench-renewals', 'ACTIVE', p.start, p.start, p.start, p.start, p.due, extract(day FROM p.due)::int, 25000, 'IDR'
       FROM unnest($1::text[]) AS u(id), LATERAL (SELECT (now() AT TIME ZONE 'UTC') - interval '1 minute' AS due, (now() AT TIME ZONE 'UTC') - interval '1 month 1 minute' AS start) p`,
      [users.map((u) => u.id)],
    );
    await client.query('ANALYZE subscriptions; ANALYZE transactions; ANALYZE wallets');
    const renewedCount = async () =>
      Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM transactions WHERE type = 'CHARGE' AND "subscriptionId" LIKE 'bench-renew-%'`)).rows[0]?.n ?? 0);

    await boss.start();
    const t0 = Date.now();
    await boss.send('billing.renew', {});
    log('renewals: billing.renew sent; the API fetches it at its next poll');
    let done = 0;
    while (done < RENEWALS && Date.now() - t0 < 300_000) {
      await sleep(250);
      done = await renewedCount();
    }
    const seconds = (Date.now() - t0) / 1000;
    const { rows } = await client.query<{ once: number; twice: number; active: number }>(
      `SELECT count(*) FILTER (WHERE n = 1)::int AS once, count(*) FILTER (WHERE n > 1)::int AS twice,
              (SELECT count(*)::int FROM subscriptions WHERE id LIKE 'bench-renew-%' AND status = 'ACTIVE' AND "currentPeriodEnd" > now() AT TIME ZONE 'UTC') AS active
       FROM (SELECT "subscriptionId", count(*) AS n FROM transactions WHERE type = 'CHARGE' AND "subscriptionId" LIKE 'bench-renew-%' GROUP BY 1) c`,
    );
    const r = rows[0] ?? { once: 0, twice: 0, active: 0 };
    report.rows.push({
      scenario: 'renewals',
      description: `${RENEWALS} subscriptions due at once, renewed by the billing.renew job (req/s: renewals per second)`,
      requests: done,
      rps: Math.round(done / seconds),
      p50: 0,
      p90: 0,
      p99: 0,
      max: Math.round(seconds * 1000),
      non2xx: RENEWALS - r.once,
      errors: r.twice,
      timeouts: 0,
      seconds,
    });
    report.notes.push(`renewals: ${r.once} renewed with exactly one CHARGE, ${r.twice} with more than one, ${r.active} ACTIVE in their new period, in ${seconds.toFixed(1)} s`);
    await backgroundCaughtUp(client, 'renewals', report, log);
  } finally {
    await boss.stop({ graceful: false, wait: true }).catch(() => undefined);
    await client.end();
  }
}

/**
 * The API's jobs yield to a burst of requests and catch up after it, and a scenario that queues
 * many emails leaves them to send: the next scenario starts once they are done (every event
 * dispatched, no job due), so it is not measured against that backlog. Waits CATCH_UP_LIMIT_MS at most.
 */
async function backgroundCaughtUp(client: pg.Client, scenario: string, report: Report, log: (line: string) => void): Promise<void> {
  const t0 = Date.now();
  const backlog = async () =>
    (
      await client.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM domain_events WHERE "dispatchedAt" IS NULL)::int
              + (SELECT count(*) FROM pgboss.job WHERE state IN ('created', 'retry', 'active') AND start_after <= now())::int AS n`,
      )
    ).rows[0]?.n ?? 0;
  let left = await backlog();
  while (left > 0 && Date.now() - t0 < CATCH_UP_LIMIT_MS) {
    await sleep(250);
    left = await backlog();
  }
  const caughtUp = left === 0 ? `caught up ${((Date.now() - t0) / 1000).toFixed(1)} s after it` : `still had ${left} events and jobs waiting ${CATCH_UP_LIMIT_MS / 1000} s after it`;
  log(`${scenario}: the API's background work (emails, provisioning) ${caughtUp}`);
  report.notes.push(`${scenario}: the API's background work ${caughtUp}`);
}
