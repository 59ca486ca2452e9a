import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runRenewals, subscriptionsDeps } from '../../src/modules/subscriptions/index.js';
import { noJobs } from '../../src/lib/jobs.js';
import { balanceOf, createPlan, createPool, createUser, fund, ledgerSum } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';

// Money under concurrency: every request below runs at the same moment as its twins, through the
// real API and a real PostgreSQL, and the ledger must come out exact.
const ctx = createTestContext();
const { request, db, config } = ctx;
afterAll(() => ctx.close());

const PRICE = 15000;
const all = <T>(n: number, f: (i: number) => Promise<T>) => Promise.all(Array.from({ length: n }, (_, i) => f(i)));
/** Users with the price of one month each. */
const fundedBuyers = (n: number) =>
  all(n, async () => {
    const u = await createUser(db, config);
    await fund(db, u.user.id, PRICE);
    return u;
  });

describe('money under concurrency', () => {
  it('20 concurrent subscribes with the balance for one: exactly one 201, the rest 402, balance exactly 0', async () => {
    const pool = await createPool(db);
    const plans = await all(20, () => createPlan(db, pool, { monthlyPrice: PRICE }));
    const { user, auth } = await createUser(db, config);
    await fund(db, user.id, PRICE);
    const answers = await all(20, (i) => request.post('/api/v1/subscriptions').set('Authorization', auth).send({ serviceId: plans[i]?.id }));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 402)).toHaveLength(19);
    expect(await balanceOf(db, user.id)).toBe(0);
    expect(await db.subscription.count({ where: { userId: user.id } })).toBe(1);
    expect(await db.transaction.count({ where: { userId: user.id, type: 'CHARGE' } })).toBe(1);
    expect(await ledgerSum(db, user.id)).toBe(0);
  });

  it('the same Idempotency-Key 10 times at once: one subscription, one charge, the same answer', async () => {
    const pool = await createPool(db);
    const plan = await createPlan(db, pool);
    const { user, auth } = await createUser(db, config);
    await fund(db, user.id, 10 * PRICE);
    const answers = await all(10, () => request.post('/api/v1/subscriptions').set('Authorization', auth).set('Idempotency-Key', 'same-key-0123456789').send({ serviceId: plan.id }));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(answers.map((r) => r.body.data.id)).size).toBe(1);
    expect(await db.subscription.count({ where: { userId: user.id } })).toBe(1);
    expect(await db.transaction.count({ where: { userId: user.id, type: 'CHARGE' } })).toBe(1);
    expect(await balanceOf(db, user.id)).toBe(9 * PRICE);
  });

  it('one user subscribing to one service 6 times at once: one subscription, 409 ALREADY_SUBSCRIBED for the rest, one charge', async () => {
    const pool = await createPool(db);
    const plan = await createPlan(db, pool);
    const { user, auth } = await createUser(db, config);
    await fund(db, user.id, 10 * PRICE);
    const answers = await all(6, () => request.post('/api/v1/subscriptions').set('Authorization', auth).send({ serviceId: plan.id }));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
    expect(answers.filter((r) => r.status === 409).map((r) => r.body.code)).toEqual(Array(5).fill('ALREADY_SUBSCRIBED'));
    expect(await db.transaction.count({ where: { userId: user.id, type: 'CHARGE' } })).toBe(1);
    expect(await balanceOf(db, user.id)).toBe(9 * PRICE);
  });

  it('maxInstances = 1 with 10 concurrent buyers: one sale', async () => {
    const pool = await createPool(db);
    const plan = await createPlan(db, pool, { maxInstances: 1 });
    const buyers = await fundedBuyers(10);
    const answers = await all(10, (i) => request.post('/api/v1/subscriptions').set('Authorization', buyers[i]?.auth as string).send({ serviceId: plan.id }));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
    expect(answers.filter((r) => r.status === 409).map((r) => r.body.code)).toEqual(Array(9).fill('SOLD_OUT'));
    expect(await db.subscription.count({ where: { serviceId: plan.id } })).toBe(1);
    // The nine who could not buy kept their money.
    const balances = await Promise.all(buyers.map((b) => balanceOf(db, b.user.id)));
    expect(balances.filter((b) => b === PRICE)).toHaveLength(9);
  });

  it('the last room on a node is sold once', async () => {
    // One node with room for exactly one plan's requests.
    const pool = await createPool(db, 1, { cpuCores: 1, totalMemory: 300n });
    const plan = await createPlan(db, pool, { cpuRequest: '600m', cpuLimit: '1', memRequest: '256Mi', memLimit: '256Mi' });
    const buyers = await fundedBuyers(8);
    const answers = await all(8, (i) => request.post('/api/v1/subscriptions').set('Authorization', buyers[i]?.auth as string).send({ serviceId: plan.id }));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
    expect(answers.filter((r) => r.status === 409).map((r) => r.body.code)).toEqual(Array(7).fill('NO_CAPACITY'));
  });

  it('room for three on a node, twenty buyers at once: three are admitted, all of them having waited for the admission lock', async () => {
    const pool = await createPool(db, 1, { cpuCores: 2, totalMemory: 900n });
    const plan = await createPlan(db, pool, { cpuRequest: '600m', cpuLimit: '1', memRequest: '256Mi', memLimit: '256Mi' });
    const buyers = await fundedBuyers(20);
    // The admission lock is held here while the buyers arrive: their charges and rows are written
    // and all of them wait for the lock at once, then each must see the admissions committed before it.
    const holder = new pg.Client({ connectionString: inject('databaseUrl') });
    await holder.connect();
    let answers: Awaited<ReturnType<typeof request.post>>[];
    try {
      await holder.query(`BEGIN; SELECT pg_advisory_xact_lock(hashtext('minispod:admission'))`);
      const requests = all(20, (i) => request.post('/api/v1/subscriptions').set('Authorization', buyers[i]?.auth as string).send({ serviceId: plan.id }).then((r) => r));
      const waiting = async () => Number((await holder.query(`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)).rows[0].n);
      for (let last = -1, n = await waiting(); n < 20 && n !== last; ) {
        await new Promise((r) => setTimeout(r, 300));
        [last, n] = [n, await waiting()];
      }
      expect(await waiting()).toBeGreaterThanOrEqual(4);
      await holder.query('COMMIT');
      answers = await requests;
    } finally {
      await holder.end();
    }
    expect(answers.filter((r) => r.status === 201)).toHaveLength(3);
    expect(answers.filter((r) => r.status === 409).map((r) => r.body.code)).toEqual(Array(17).fill('NO_CAPACITY'));
    expect(await db.serviceInstance.count({ where: { subscription: { serviceId: plan.id } } })).toBe(3);
  });

  it('what admission sets against the fleet follows the waiting instances through concurrent placements, failures and deletions', async () => {
    // One node of 8 cores; plans of 500m. Ten are bought, then at the same moment four are placed,
    // two fail, one is deleted and three keep waiting: 1500m stays owed, so 13 more fit (8000m).
    const pool = await createPool(db, 1, { cpuCores: 8, totalMemory: 32768n });
    const plan = await createPlan(db, pool, { cpuRequest: '500m', cpuLimit: '1', memRequest: '256Mi', memLimit: '256Mi' });
    const selector = JSON.stringify(pool.selector);
    const book = async () => {
      const { rows } = await sqlClient.query<{ cpu: string; mem: string }>(
        `SELECT coalesce(sum("cpuMillis"), 0) AS cpu, coalesce(sum("memoryMb"), 0) AS mem FROM (
           SELECT "cpuMillis", "memoryMb" FROM admission_owed WHERE "nodeSelector" = $1::jsonb
           UNION ALL SELECT "cpuMillis", "memoryMb" FROM admission_owed_changes WHERE "nodeSelector" = $1::jsonb) t`,
        [selector],
      );
      return { cpu: Number(rows[0]?.cpu), mem: Number(rows[0]?.mem) };
    };
    const truth = async () => {
      const { rows } = await sqlClient.query<{ cpu: string; mem: string }>(
        `SELECT coalesce(sum("cpuRequestMillis"), 0) AS cpu, coalesce(sum("memoryRequestMb"), 0) AS mem FROM service_instances
         WHERE status IN ('PENDING', 'PROVISIONING') AND "workerNodeId" IS NULL AND "nodeSelector" = $1::jsonb`,
        [selector],
      );
      return { cpu: Number(rows[0]?.cpu), mem: Number(rows[0]?.mem) };
    };
    const sqlClient = new pg.Client({ connectionString: inject('databaseUrl') });
    await sqlClient.connect();
    try {
      const first = await fundedBuyers(10);
      const bought = await all(10, (i) => request.post('/api/v1/subscriptions').set('Authorization', first[i]?.auth as string).send({ serviceId: plan.id }));
      expect(bought.map((r) => r.status)).toEqual(Array(10).fill(201));
      expect(await book()).toEqual({ cpu: 5000, mem: 2560 });
      const ids = bought.map((r) => r.body.data.instance.id as string);
      const node = pool.nodes[0]?.node.id as string;
      const change = async (sql: string, id: string) => {
        const c = new pg.Client({ connectionString: inject('databaseUrl') });
        await c.connect();
        try {
          await c.query(sql, [id]);
        } finally {
          await c.end();
        }
      };
      await Promise.all([
        ...ids.slice(0, 4).map((id) => change(`UPDATE service_instances SET status = 'PROVISIONING', "workerNodeId" = '${node}' WHERE id = $1`, id)),
        ...ids.slice(4, 6).map((id) => change(`UPDATE service_instances SET status = 'FAILED' WHERE id = $1`, id)),
        change(`DELETE FROM service_instances WHERE id = $1`, ids[6] as string),
        // A change that leaves the waiting set alone is not recorded.
        change(`UPDATE service_instances SET "lastError" = 'still waiting' WHERE id = $1`, ids[7] as string),
      ]);
      expect(await truth()).toEqual({ cpu: 1500, mem: 768 });
      expect(await book()).toEqual(await truth());
      const more = await fundedBuyers(15);
      const answers = await all(15, (i) => request.post('/api/v1/subscriptions').set('Authorization', more[i]?.auth as string).send({ serviceId: plan.id }));
      expect(answers.filter((r) => r.status === 201)).toHaveLength(13);
      expect(answers.filter((r) => r.status === 409).map((r) => r.body.code)).toEqual(['NO_CAPACITY', 'NO_CAPACITY']);
      expect(await truth()).toEqual({ cpu: 8000, mem: 16 * 256 });
      expect(await book()).toEqual(await truth());
      // The last admission folded every change committed before it into the running sum.
      const { rows: left } = await sqlClient.query(`SELECT count(*)::int AS n FROM admission_owed_changes WHERE "nodeSelector" = $1::jsonb`, [selector]);
      expect(left[0].n).toBe(0);
      // TRUNCATE fires no row trigger: the statement trigger empties the sums with the table.
      await sqlClient.query('BEGIN');
      await sqlClient.query('TRUNCATE service_instances CASCADE');
      const { rows: after } = await sqlClient.query(`SELECT (SELECT count(*) FROM admission_owed)::int + (SELECT count(*) FROM admission_owed_changes)::int AS n`);
      await sqlClient.query('ROLLBACK');
      expect(after[0].n).toBe(0);
    } finally {
      await sqlClient.end();
    }
  });

  it('two renewal runs over the same due rows at once: one CHARGE per period', async () => {
    const pool = await createPool(db);
    const plan = await createPlan(db, pool);
    const users = await all(12, async () => {
      const u = await createUser(db, config);
      await fund(db, u.user.id, 3 * PRICE);
      return u;
    });
    const subs = await all(12, async (i) => (await request.post('/api/v1/subscriptions').set('Authorization', users[i]?.auth as string).send({ serviceId: plan.id }).expect(201)).body.data.id as string);
    // Active, and due an hour ago.
    const due = new Date(Date.now() - 3_600_000);
    await db.subscription.updateMany({ where: { id: { in: subs } }, data: { status: 'ACTIVE', currentPeriodEnd: due } });
    const deps = subscriptionsDeps({ db, config, logger: ctx.logger, jobs: noJobs });
    const clock = { now: () => new Date() };
    const [a, b] = await Promise.all([runRenewals(deps, { clock }), runRenewals(deps, { clock })]);
    expect(a + b).toBe(12);
    for (const [i, id] of subs.entries()) {
      const charges = await db.transaction.findMany({ where: { subscriptionId: id, type: 'CHARGE' } });
      expect(charges).toHaveLength(2);
      expect(charges.filter((c) => c.idempotencyKey === `charge:${id}:${due.toISOString()}`)).toHaveLength(1);
      const user = users[i]?.user.id as string;
      expect(await balanceOf(db, user)).toBe(PRICE);
      expect(await ledgerSum(db, user)).toBe(PRICE);
    }
    const renewed = await db.subscription.findMany({ where: { id: { in: subs } } });
    expect(renewed.every((s) => s.status === 'ACTIVE' && s.currentPeriodStart.getTime() === due.getTime() && s.currentPeriodEnd > new Date())).toBe(true);
    // A third run finds nothing due.
    expect(await runRenewals(deps, { clock })).toBe(0);
  });
});
