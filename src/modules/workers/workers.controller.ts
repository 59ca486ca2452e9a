import type { Config } from '../../lib/config.js';
import { poolOf, type Db } from '../../lib/db.js';
import { createSharedRuns, createSnapshot } from '../../lib/batch.js';
import { sqlFor } from '../../lib/sql.js';
import { created, ok, type RouteContext } from '../../lib/http/index.js';
import { reportCaller } from './workers.agent-auth.js';
import { reportBatchers } from './workers.batch.js';
import type { Clock } from './workers.mapper.js';
import { recordHeartbeat, recordResources } from './workers.reports.js';
import type { heartbeatBody, ListNodesQuery, listNodesQuery, livenessQuery, nodeParams, resourcesBody, schedulableBody, statusBody, createNodeBody, updateNodeBody } from './workers.schemas.js';
import { createNode, deleteNode, getNodeDetail, rotateAgentToken, setSchedulable, setStatus, updateNode } from './workers.service.js';
import { listNodes, type Liveness } from './workers.list.js';
import { nodeStats } from './workers.stats.js';

type Params = typeof nodeParams;
type Ctx<P = undefined, Q = undefined, B = undefined> = RouteContext<P, Q, B>;

/** Thin HTTP adapters: validated input and caller in, one service call, one response helper out. */
export function workersController({ db, config }: { db: Db; config: Readonly<Config> }) {
  const clock = (): Clock => ({ now: new Date(), graceSeconds: config.heartbeatGraceSeconds });
  // Agents' reports are coalesced on the pool behind Prisma when there is one (see workers.batch.ts).
  const pool = poolOf(db);
  const batchers = pool ? reportBatchers(pool) : undefined;
  const sql = sqlFor(db);
  // Statistics read every node, a cost that grows with the fleet (p50 200 ms at 100,000 nodes):
  // every request shares one snapshot at most WORKER_STATS_MAX_AGE_MS old, refreshed by one
  // aggregate in the background, and says when it was computed. Its figures come from heartbeats
  // and reports that are seconds old themselves. See createSnapshot.
  const stats = createSnapshot(() => nodeStats(sql, clock()), { maxAgeMs: config.workerStatsMaxAgeMs });
  // Identical list requests of one event-loop turn share the page, mapped once with the clock read
  // when it is read (after every one of them arrived; see createSharedRuns).
  const lists = createSharedRuns<Awaited<ReturnType<typeof listNodes>>>();
  const list = (query: ListNodesQuery, liveness?: Liveness) => lists(`${liveness ?? 'all'} ${JSON.stringify(query)}`, () => listNodes(sql, query, clock(), liveness));

  return {
    list: async ({ query, res }: Ctx<undefined, typeof listNodesQuery>) => ok(res, await list(query), 'Worker nodes retrieved'),
    online: async ({ query, res }: Ctx<undefined, typeof livenessQuery>) => ok(res, await list(query, 'online'), 'Online worker nodes retrieved'),
    offline: async ({ query, res }: Ctx<undefined, typeof livenessQuery>) => ok(res, await list(query, 'offline'), 'Offline worker nodes retrieved'),
    stats: async ({ res }: Ctx) => ok(res, (await stats()).value, 'Worker node statistics retrieved'),
    get: async ({ params, res }: Ctx<Params>) => ok(res, await getNodeDetail(db, params.nodeId, clock()), 'Worker node retrieved'),
    create: async ({ body, res }: Ctx<undefined, undefined, typeof createNodeBody>) =>
      created(res, await createNode(db, body, clock()), 'Worker node registered: keep the agent token, it is not shown again'),
    update: async ({ params, body, res }: Ctx<Params, undefined, typeof updateNodeBody>) => ok(res, await updateNode(db, params.nodeId, body, clock()), 'Worker node updated'),
    remove: async ({ params, res }: Ctx<Params>) => ok(res, await deleteNode(db, params.nodeId, clock()), 'Worker node deleted'),
    schedulable: async ({ params, body, res }: Ctx<Params, undefined, typeof schedulableBody>) =>
      ok(res, await setSchedulable(db, params.nodeId, body.isSchedulable, clock()), 'Worker node schedulability updated'),
    status: async ({ params, body, res }: Ctx<Params, undefined, typeof statusBody>) =>
      ok(res, await setStatus(db, params.nodeId, body.status, body.reason, clock()), 'Worker node status updated'),
    rotateToken: async ({ params, res }: Ctx<Params>) =>
      ok(res, await rotateAgentToken(db, params.nodeId, clock()), 'Agent token rotated: the previous token no longer works'),
    heartbeat: async ({ params, body, res }: Ctx<Params, undefined, typeof heartbeatBody>) =>
      ok(res, await recordHeartbeat(db, reportCaller(res), params.nodeId, body, config.heartbeatGraceSeconds, batchers), 'Heartbeat recorded'),
    resources: async ({ params, body, res }: Ctx<Params, undefined, typeof resourcesBody>) =>
      ok(res, await recordResources(db, reportCaller(res), params.nodeId, body, batchers), 'Resources updated'),
  };
}
