import { AppError, fieldError, notFound } from '../../lib/errors/index.js';
import { createSecretBox } from '../../lib/crypto.js';
import { pageWindow, paginate } from '../../lib/http/index.js';
import type { Prisma } from '../../lib/db.js';
import type { InstanceStatus } from '../../generated/prisma/enums.js';
import { NO_CLUSTER_MESSAGE } from './instances.cluster.js';
import { isClusterError } from './instances.cluster-errors.js';
import { requireTransition } from './instances.lifecycle.js';
import { redactSecrets } from './instances.manifests.js';
import { credentialsContext, credentialsOf, desiredReplicas, INSTANCE_INCLUDE, INSTANCE_QUEUES, loadInstance, manifestsOf, type InstanceRow, type InstancesDeps } from './instances.provisioning.js';

/** What the routes do with an instance: read it, restart, retry, its credentials, logs and manifests. */

export const USER_RETRY_LIMIT = 3;

export const toInstanceView = (row: InstanceRow, cluster: InstancesDeps['cluster']) => ({
  id: row.id,
  subscriptionId: row.subscriptionId,
  userId: row.subscription.userId,
  serviceId: row.subscription.service.id,
  status: row.status,
  shortId: row.shortId,
  namespace: row.namespace,
  host: row.host,
  url: row.url,
  nodeName: row.nodeName,
  workerNodeId: row.workerNodeId,
  readyReplicas: row.readyReplicas,
  provisionAttempts: row.provisionAttempts,
  userRetries: row.userRetries,
  lastError: row.lastError,
  lastTransitionAt: row.lastTransitionAt,
  lastReconciledAt: row.lastReconciledAt,
  cluster: cluster.mode,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

/** The instance of the caller's subscription; another user's does not exist as far as they can tell. */
async function ofSubscription(deps: InstancesDeps, userId: string | undefined, subscriptionId: string) {
  const sub = await deps.db.subscription.findUnique({ where: { id: subscriptionId }, select: { userId: true, instance: { select: { id: true } } } });
  if (!sub || (userId !== undefined && sub.userId !== userId)) throw notFound('subscription', subscriptionId);
  if (!sub.instance) throw notFound('instance');
  return byId(deps, sub.instance.id);
}

async function byId(deps: InstancesDeps, id: string) {
  const row = await loadInstance(deps.db, id);
  if (!row) throw notFound('instance', id);
  return row;
}

/** Cluster failures are not the caller's fault: 503 with what Kubernetes said. */
async function onCluster<T>(deps: InstancesDeps, fn: (driver: NonNullable<InstancesDeps['cluster']['driver']>) => Promise<T>): Promise<T> {
  const { driver } = deps.cluster;
  if (!driver) throw new AppError('SERVICE_UNAVAILABLE', `Not available: ${NO_CLUSTER_MESSAGE}`);
  try {
    return await fn(driver);
  } catch (err) {
    if (isClusterError(err)) throw new AppError('SERVICE_UNAVAILABLE', `The cluster did not answer as expected (${err.reason})`, { cause: err });
    throw err;
  }
}

export const getInstance = async (deps: InstancesDeps, userId: string | undefined, subscriptionId: string) => toInstanceView(await ofSubscription(deps, userId, subscriptionId), deps.cluster);

/** A new pod-template annotation: Kubernetes rolls the pod (Recreate), as `kubectl rollout restart` does. */
export async function restart(deps: InstancesDeps, userId: string | undefined, subscriptionId: string, now: Date) {
  const row = await ofSubscription(deps, userId, subscriptionId);
  if (row.status !== 'RUNNING' && row.status !== 'DEGRADED') throw new AppError('INVALID_STATE', `The instance is ${row.status}: only a running app can be restarted`);
  const deployment = manifestsOf(deps, row, await credentialsOf(deps, row), { replicas: 1, restartedAt: now }).find((m) => m.kind === 'Deployment');
  await onCluster(deps, (driver) => driver.apply(deployment as NonNullable<typeof deployment>));
  deps.jobs.trigger(INSTANCE_QUEUES.reconcile, { instanceId: row.id }, { singletonKey: row.id });
  return toInstanceView(await byId(deps, row.id), deps.cluster);
}

/** FAILED -> PROVISIONING, at most USER_RETRY_LIMIT times by the owner (administrators are not counted). */
export async function retry(deps: InstancesDeps, who: { userId?: string; instanceId?: string; subscriptionId?: string }, now: Date) {
  const row = who.instanceId ? await byId(deps, who.instanceId) : await ofSubscription(deps, who.userId, who.subscriptionId as string);
  if (desiredReplicas(row.subscription.status) === 0) throw new AppError('INVALID_STATE', `The subscription is ${row.subscription.status}: its app cannot be started`);
  const byOwner = who.userId !== undefined;
  await deps.db.$transaction(async (tx) => {
    if (byOwner) {
      // The count and the limit in one conditional UPDATE: two retries at once cannot both pass the last one.
      const counted = await tx.serviceInstance.updateMany({ where: { id: row.id, status: 'FAILED', userRetries: { lt: USER_RETRY_LIMIT } }, data: { userRetries: { increment: 1 } } });
      if (counted.count === 0 && row.status === 'FAILED') throw new AppError('INVALID_STATE', `The instance was already retried ${USER_RETRY_LIMIT} times: please contact support`);
    }
    await requireTransition(tx, row.id, 'provision', { now, data: { provisionAttempts: 0, lastError: null } });
  });
  deps.jobs.trigger('events.dispatch');
  // The job would find it PROVISIONING already; it applies and reconciles as after a create.
  deps.jobs.trigger(INSTANCE_QUEUES.provision, { instanceId: row.id }, { singletonKey: row.id });
  return toInstanceView(await byId(deps, row.id), deps.cluster);
}

/** The generated credentials, decrypted for the owner only (never logged, never emailed). */
export async function credentials(deps: InstancesDeps, userId: string, subscriptionId: string) {
  const row = await ofSubscription(deps, userId, subscriptionId);
  if (!row.credentialsEncrypted) return { credentials: {} as Record<string, string> };
  return { credentials: JSON.parse(createSecretBox(deps.config.encryptionKey).open(row.credentialsEncrypted, credentialsContext(row.id))) as Record<string, string> };
}

export async function logs(deps: InstancesDeps, userId: string, subscriptionId: string, tailLines: number) {
  const row = await ofSubscription(deps, userId, subscriptionId);
  const found = await onCluster(deps, (driver) => driver.podLogs(row.namespace, { tailLines }));
  return { pod: found?.pod ?? null, tailLines, text: found?.text ?? '' };
}

/** What would be (or was) applied, Secret values redacted; works without a cluster. */
export async function manifests(deps: InstancesDeps, userId: string, subscriptionId: string) {
  const row = await ofSubscription(deps, userId, subscriptionId);
  const placeholders = { ADMIN_PASSWORD: '(generated)' };
  return { manifests: redactSecrets(manifestsOf(deps, row, placeholders, { replicas: desiredReplicas(row.subscription.status) })) };
}

export async function listInstances(deps: InstancesDeps, q: { page: number; limit: number; status?: InstanceStatus; workerNodeId?: string; sortOrder: 'asc' | 'desc' }) {
  const where: Prisma.ServiceInstanceWhereInput = { status: q.status, workerNodeId: q.workerNodeId };
  const [rows, total] = await Promise.all([
    deps.db.serviceInstance.findMany({ where, include: INSTANCE_INCLUDE, orderBy: [{ createdAt: q.sortOrder }, { id: 'asc' }], ...pageWindow(q.page, q.limit) }),
    deps.db.serviceInstance.count({ where }),
  ]);
  return { instances: rows.map((r) => toInstanceView(r, deps.cluster)), pagination: paginate(q.page, q.limit, total) };
}

export async function requestReconcile(deps: InstancesDeps, id: string) {
  const row = await byId(deps, id);
  deps.jobs.trigger(INSTANCE_QUEUES.reconcile, { instanceId: row.id }, { singletonKey: row.id });
  return toInstanceView(row, deps.cluster);
}

export const USAGE_MAX_RANGE_DAYS = 31;
const DAY_MS = 86_400_000;

/** The usage windows of the caller's instance between from and to (default: the last 24 hours). */
export async function usage(deps: InstancesDeps, userId: string, subscriptionId: string, q: { from?: string; to?: string }, now: Date) {
  const row = await ofSubscription(deps, userId, subscriptionId);
  const to = q.to ? new Date(q.to) : now;
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - DAY_MS);
  if (from.getTime() >= to.getTime()) throw fieldError('from', 'from must be before to');
  if (to.getTime() - from.getTime() > USAGE_MAX_RANGE_DAYS * DAY_MS) throw fieldError('from', `the range may span at most ${USAGE_MAX_RANGE_DAYS} days`);
  const rows = await deps.db.usageMetric.findMany({ where: { instanceId: row.id, windowStart: { gte: from, lt: to } }, orderBy: { windowStart: 'asc' } });
  return {
    instanceId: row.id,
    from,
    to,
    windows: rows.map((r) => ({ windowStart: r.windowStart, windowEnd: r.windowEnd, cpuMillicores: r.cpuMillicores, memoryBytes: Number(r.memoryBytes), pods: r.pods })),
  };
}
