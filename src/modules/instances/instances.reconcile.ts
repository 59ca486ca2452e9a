import type { Clock } from '../../lib/jobs.js';
import type { DeploymentObservation, PodPlacement } from './instances.kubernetes.js';
import { desiredReplicas, INSTANCE_QUEUES, reconcileInstance, type InstancesDeps } from './instances.provisioning.js';

const LIVE = ['PROVISIONING', 'RUNNING', 'DEGRADED', 'DELETING'] as const;
/** Rows per UPDATE of the instances whose reconcile changed nothing but its time. */
const TOUCH_BATCH = 500;

interface PassRow {
  id: string;
  status: string;
  namespace: string;
  nodeName: string | null;
  workerNodeId: string | null;
  readyReplicas: number;
  lastError: string | null;
  subscription: { status: Parameters<typeof desiredReplicas>[0] };
}

/**
 * A RUNNING instance whose Deployment is complete on the node already recorded, with the same
 * available count and no error: its reconcile would write only lastReconciledAt. Anything else
 * (or an instance the LISTs did not show) goes through reconcileInstance, which reads afresh.
 */
function unchanged(r: PassRow, deployments: Map<string, DeploymentObservation>, placements: Map<string, PodPlacement[]>, nodeIds: Map<string, string>): boolean {
  if (r.status !== 'RUNNING' || r.lastError !== null || desiredReplicas(r.subscription.status) !== 1) return false;
  const obs = deployments.get(r.namespace);
  if (obs?.state !== 'complete' || obs.availableReplicas !== r.readyReplicas) return false;
  const nodeName = (placements.get(r.namespace) ?? []).find((p) => p.ready && !p.terminating)?.nodeName ?? null;
  return nodeName === r.nodeName && (nodeName ? nodeIds.get(nodeName) ?? null : null) === r.workerNodeId;
}

/**
 * The every-minute pass over live instances, least recently reconciled first. The cluster is read
 * with a few paged LISTs (managed Deployments and pods) instead of two reads per instance; the
 * instances it shows unchanged get their lastReconciledAt in one UPDATE per 500, and only the rest
 * are reconciled one by one (`batch` in flight), as a single reconcile job would.
 */
export async function reconcileLive(deps: InstancesDeps, clock: Clock, options: { limit?: number; batch?: number; rest?: number } = {}) {
  const { driver } = deps.cluster;
  if (!driver) return { reconciled: 0 };
  const now = clock.now();
  const rows: PassRow[] = await deps.db.serviceInstance.findMany({
    where: { status: { in: [...LIVE] } },
    orderBy: [{ lastReconciledAt: { sort: 'asc', nulls: 'first' } }, { id: 'asc' }],
    take: options.limit ?? 2000,
    select: { id: true, status: true, namespace: true, nodeName: true, workerNodeId: true, readyReplicas: true, lastError: true, subscription: { select: { status: true } } },
  });
  let same: string[] = [];
  let rest = rows.map((r) => r.id);
  let failed = 0;
  if (rows.some((r) => r.status === 'RUNNING')) {
    try {
      // Paced (a rest as long as each page took): the pass is background work beside the API.
      const { deployments, placements } = await driver.observeAll({ rest: options.rest ?? 1 });
      const names = [...new Set([...placements.values()].flat().flatMap((p) => (p.nodeName ? [p.nodeName] : [])))];
      const nodes = names.length > 0 ? await deps.db.workerNode.findMany({ where: { name: { in: names } }, select: { id: true, name: true } }) : [];
      const nodeIds = new Map(nodes.map((n) => [n.name, n.id]));
      same = rows.filter((r) => unchanged(r, deployments, placements, nodeIds)).map((r) => r.id);
      const skip = new Set(same);
      rest = rest.filter((id) => !skip.has(id));
    } catch (err) {
      // The LISTs failed (a 429, a timeout): every instance is read on its own, as before.
      deps.logger.warn(`Reconcile: listing the cluster failed (${err instanceof Error ? err.message : String(err)}); reading each instance instead`);
    }
  }
  for (let i = 0; i < same.length; i += TOUCH_BATCH) {
    // Status still RUNNING: a job that moved one meanwhile keeps what it wrote (this only dates the read).
    await deps.db.serviceInstance.updateMany({ where: { id: { in: same.slice(i, i + TOUCH_BATCH) }, status: 'RUNNING' }, data: { lastReconciledAt: now } });
  }
  // Each reconcile mostly waits on the API server: a wider batch keeps more of them in flight.
  const size = options.batch ?? 30;
  for (let i = 0; i < rest.length; i += size) {
    const results = await Promise.allSettled(rest.slice(i, i + size).map((id) => reconcileInstance(deps, id, clock)));
    for (const r of results) if (r.status === 'rejected') failed += 1;
  }
  if (failed > 0) deps.logger.warn(`Reconcile: ${failed} of ${rows.length} instance(s) could not be read from the cluster; the next pass retries them`);
  // PENDING instances of live subscriptions with no provision job under way (created while the
  // cluster was off, or by the seed) are queued; the queue keeps one job per instance.
  const waiting = await deps.db.serviceInstance.findMany({
    where: { status: 'PENDING', provisionAttempts: 0, createdAt: { lt: new Date(now.getTime() - 60_000) }, subscription: { status: { in: ['PENDING', 'ACTIVE', 'PAST_DUE'] } } },
    select: { id: true },
    take: 500,
  });
  for (const w of waiting) await deps.jobs.send(INSTANCE_QUEUES.provision, { instanceId: w.id }, { singletonKey: w.id });
  return { reconciled: rows.length - failed, unchanged: same.length, failed, queued: waiting.length };
}
