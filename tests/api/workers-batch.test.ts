import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { poolOf } from '../../src/lib/db.js';
import { hashAgentToken } from '../../src/modules/workers/workers.agent-auth.js';
import { reportBatchers } from '../../src/modules/workers/workers.batch.js';
import { createNode } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';

const ctx = createTestContext();
afterAll(() => ctx.close());
const pool = poolOf(ctx.db) as pg.Pool;
const batchers = reportBatchers(pool);
const beat = (n: Awaited<ReturnType<typeof createNode>>, isReady = true) =>
  batchers.heartbeat.submit({ tokenHash: hashAgentToken(n.agentToken), ref: n.node.id, isReady, reason: isReady ? null : 'kubelet stopped posting' });

describe('coalesced agent reports', () => {
  it('applies heartbeats submitted together to their own rows and answers each with its own row', async () => {
    const nodes = await Promise.all([createNode(ctx.db), createNode(ctx.db), createNode(ctx.db)]);
    const [a, b, c] = await Promise.all([beat(nodes[0]!), beat(nodes[1]!, false), beat(nodes[2]!)]);
    expect([a?.id, b?.id, c?.id]).toEqual(nodes.map((n) => n.node.id));
    expect(a).toMatchObject({ status: 'ACTIVE', isReady: true });
    expect(b).toMatchObject({ status: 'NOT_READY', isReady: false });
    const rows = await ctx.db.workerNode.findMany({ where: { id: { in: nodes.map((n) => n.node.id) } }, orderBy: { name: 'asc' } });
    expect(rows.find((r) => r.id === nodes[1]!.node.id)).toMatchObject({ status: 'NOT_READY', statusReason: 'kubelet stopped posting' });
  });

  it('answers nothing for a token that names another node, and leaves both rows alone', async () => {
    const [mine, other] = await Promise.all([createNode(ctx.db), createNode(ctx.db)]);
    const ids = [mine.node.id, other.node.id];
    const before = await ctx.db.workerNode.findMany({ where: { id: { in: ids } }, orderBy: { id: 'asc' } });
    const result = await batchers.heartbeat.submit({ tokenHash: hashAgentToken(mine.agentToken), ref: other.node.id, isReady: true, reason: null });
    expect(result).toBeUndefined();
    expect(await ctx.db.workerNode.findMany({ where: { id: { in: ids } }, orderBy: { id: 'asc' } })).toEqual(before);
  });

  it('runs a statement again when PostgreSQL aborts it to break a deadlock', async () => {
    const [x, y] = await Promise.all([createNode(ctx.db), createNode(ctx.db)]);
    const other = new pg.Client({ connectionString: inject('databaseUrl') });
    await other.connect();
    try {
      // Another transaction holds y and, once the batch holds x and waits for y, asks for x.
      await other.query('BEGIN');
      await other.query(`UPDATE worker_nodes SET "statusReason" = 'held' WHERE id = $1`, [y.node.id]);
      const batch = Promise.all([beat(x), beat(y)]);
      await waitUntilWaiting(other);
      const cross = other
        .query(`UPDATE worker_nodes SET "statusReason" = 'held' WHERE id = $1`, [x.node.id]).then(
        () => 'locked',
        (err: { code?: string }) => err.code,
      );
      // The batch waited first, so its deadlock check runs first and PostgreSQL aborts it, not us.
      expect(await cross).toBe('locked');
      await other.query('COMMIT');
      const [rx, ry] = await batch;
      expect([rx?.id, ry?.id]).toEqual([x.node.id, y.node.id]);
      const rows = await ctx.db.workerNode.findMany({ where: { id: { in: [x.node.id, y.node.id] } } });
      expect(rows.every((r) => r.status === 'ACTIVE' && r.isReady)).toBe(true);
    } finally {
      await other.end();
    }
  }, 20_000);
});

/**
 * Resolves once some backend other than `client` waits for a lock. `client` is inside its open
 * transaction, where PostgreSQL keeps the first pg_stat_activity snapshot it took until the
 * transaction ends: each poll discards it first, or a poll made before the batch began waiting
 * would be all the later ones ever see.
 */
async function waitUntilWaiting(client: pg.Client) {
  for (let i = 0; i < 200; i++) {
    await client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FROM unnest%' AND datname = current_database()`);
    if (rows[0].n > 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the batch never waited for the held row');
}
