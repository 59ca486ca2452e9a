import { randomBytes } from 'node:crypto';
import type { Config } from '../../lib/config.js';
import { createSecretBox } from '../../lib/crypto.js';
import type { Db, DbClient } from '../../lib/db.js';
import type { Clock, JobContext, JobQueue } from '../../lib/jobs.js';
import type { Logger } from '../../lib/logger.js';
import type { SubscriptionStatus } from '../../generated/prisma/enums.js';
import { cancelPendingWithRefund, transition } from '../subscriptions/index.js';
import { NO_CLUSTER_MESSAGE, type InstanceCluster } from './instances.cluster.js';
import { toClusterError } from './instances.cluster-errors.js';
import { transitionInstance } from './instances.lifecycle.js';
import { buildManifests, type InstanceInput, type Manifest, type ServiceInput } from './instances.manifests.js';

/**
 * The instance jobs: provision (apply), reconcile (read back what Kubernetes observed and move the
 * status), stop (replicas 0) and delete (the namespace, to its 404). Each one reads the rows and
 * the cluster afresh, so running one twice, or two at once, ends in the same state.
 */

export interface InstancesDeps {
  db: Db;
  config: Pick<Config, 'appsDomain' | 'kubernetes' | 'encryptionKey'>;
  logger: Logger;
  jobs: JobQueue;
  cluster: InstanceCluster;
}

export const INSTANCE_QUEUES = { provision: 'instance.provision', reconcile: 'instance.reconcile', stop: 'instance.stop', delete: 'instance.delete' } as const;

export const INSTANCE_INCLUDE = {
  subscription: { select: { id: true, status: true, userId: true, service: true } },
} as const;

export type InstanceRow = NonNullable<Awaited<ReturnType<typeof loadInstance>>>;
export const loadInstance = (db: DbClient, id: string) => db.serviceInstance.findUnique({ where: { id }, include: INSTANCE_INCLUDE });

/** Replicas the subscription pays for: 1 while it is live and not suspended, 0 otherwise. */
export const desiredReplicas = (status: SubscriptionStatus): 0 | 1 => (status === 'PENDING' || status === 'ACTIVE' || status === 'PAST_DUE' ? 1 : 0);

export const credentialsContext = (instanceId: string) => `instance-credentials:${instanceId}`;

/** The instance's generated credentials; made once (the conditional update keeps the first of two racing jobs). */
export async function credentialsOf(deps: Pick<InstancesDeps, 'db' | 'config'>, inst: { id: string; credentialsEncrypted: string | null }): Promise<Record<string, string>> {
  const box = createSecretBox(deps.config.encryptionKey);
  let sealed = inst.credentialsEncrypted;
  if (!sealed) {
    const fresh = box.seal(JSON.stringify({ ADMIN_PASSWORD: randomBytes(18).toString('base64url') }), credentialsContext(inst.id));
    await deps.db.serviceInstance.updateMany({ where: { id: inst.id, credentialsEncrypted: null }, data: { credentialsEncrypted: fresh } });
    sealed = (await deps.db.serviceInstance.findUniqueOrThrow({ where: { id: inst.id }, select: { credentialsEncrypted: true } })).credentialsEncrypted as string;
  }
  return JSON.parse(box.open(sealed, credentialsContext(inst.id))) as Record<string, string>;
}

/** The rows mapped onto the manifest functions' inputs. */
export function manifestsOf(deps: Pick<InstancesDeps, 'config'>, inst: InstanceRow, credentials: Record<string, string>, options: { replicas: 0 | 1; restartedAt?: Date }): Manifest[] {
  const s = inst.subscription.service;
  const instance: InstanceInput = { id: inst.id, shortId: inst.shortId, subscriptionId: inst.subscriptionId, userId: inst.subscription.userId, host: inst.host, replicas: options.replicas, restartedAt: options.restartedAt ?? null, credentials };
  const service: ServiceInput = {
    slug: s.slug,
    dockerImage: s.dockerImage ?? '',
    containerPort: s.containerPort ?? 0,
    cpuRequest: s.cpuRequest,
    cpuLimit: s.cpuLimit,
    memRequest: s.memRequest,
    memLimit: s.memLimit,
    storage: s.storage,
    dataMountPath: s.dataMountPath,
    healthPath: s.healthPath,
    environmentVars: (s.environmentVars ?? {}) as Record<string, string>,
    nodeSelector: (s.nodeSelector ?? {}) as Record<string, string>,
    tolerations: (s.tolerations ?? []) as ServiceInput['tolerations'],
  };
  const k = deps.config.kubernetes;
  return buildManifests(instance, service, { appsDomain: deps.config.appsDomain, ingressClassName: k.ingressClassName, ingressNamespace: k.ingressNamespace, storageClassName: k.storageClassName ?? null, tlsIssuer: k.tlsIssuer ?? null });
}

const later = (deps: InstancesDeps, queue: string, instanceId: string, seconds: number) =>
  deps.jobs.send(queue, { instanceId }, { singletonKey: instanceId, startAfter: seconds }).then(() => undefined);

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 1000);

/**
 * FAILED for good; a subscription that never ran is cancelled with its charge refunded (its
 * instance then deleted), in the same transaction.
 */
async function fail(deps: InstancesDeps, inst: InstanceRow, reason: string, now: Date) {
  const refund = inst.subscription.status === 'PENDING';
  const deleteAfter = await deps.db.$transaction(async (tx) => {
    const failed = await transitionInstance(tx, inst.id, 'failed', { now, data: { lastError: reason, readyReplicas: 0 }, eventData: { reason, refunded: refund } });
    if (!failed || !refund) return false;
    await cancelPendingWithRefund(tx, inst.subscriptionId, now, `The app could not be started: ${reason}`.slice(0, 500), 'provisionFailed');
    return true;
  });
  deps.jobs.trigger('events.dispatch');
  if (deleteAfter) deps.jobs.trigger(INSTANCE_QUEUES.delete, { instanceId: inst.id }, { singletonKey: inst.id });
}

/** instance.provision: PENDING/STOPPED -> PROVISIONING, every object applied (server-side apply), then reconciled. */
export async function provisionInstance(deps: InstancesDeps, instanceId: string, ctx: Pick<JobContext, 'clock' | 'lastAttempt'>) {
  const inst = await loadInstance(deps.db, instanceId);
  if (!inst || inst.status === 'DELETING' || inst.status === 'DELETED' || inst.status === 'FAILED') return { skipped: inst?.status ?? 'missing' };
  if (desiredReplicas(inst.subscription.status) === 0) return { skipped: `subscription ${inst.subscription.status}` };
  const { driver } = deps.cluster;
  if (!driver) {
    await deps.db.serviceInstance.update({ where: { id: instanceId }, data: { lastError: NO_CLUSTER_MESSAGE } });
    return { skipped: NO_CLUSTER_MESSAGE };
  }
  const now = ctx.clock.now();
  const moved = await deps.db.$transaction(async (tx) => {
    const t = await transitionInstance(tx, instanceId, 'provision', { now, data: { lastError: null, provisionAttempts: { increment: 1 } } });
    if (!t) await tx.serviceInstance.update({ where: { id: instanceId }, data: { provisionAttempts: { increment: 1 } } });
    return t;
  });
  if (moved) deps.jobs.trigger('events.dispatch');
  let manifests: Manifest[];
  try {
    manifests = manifestsOf(deps, inst, await credentialsOf(deps, inst), { replicas: 1 });
  } catch (err) {
    await fail(deps, { ...inst, status: 'PROVISIONING' }, `Invalid manifests: ${message(err)}`, now);
    return { failed: true };
  }
  try {
    await driver.applyAll(manifests);
  } catch (err) {
    const ce = toClusterError(err, 'apply');
    if (ce.retryable && !ctx.lastAttempt) {
      // Only while it is still being provisioned: an attempt that ends after another one failed
      // the instance (or it was deleted meanwhile) leaves that outcome's error as it is.
      await deps.db.serviceInstance.updateMany({ where: { id: instanceId, status: { notIn: ['FAILED', 'DELETING', 'DELETED'] } }, data: { lastError: message(ce) } });
      throw ce;
    }
    await fail(deps, inst, `Kubernetes refused the instance: ${message(ce)}`, now);
    return { failed: true };
  }
  await later(deps, INSTANCE_QUEUES.reconcile, instanceId, 1);
  return { applied: manifests.length };
}

/** instance.stop: replicas 0 (data kept); STOPPED once Kubernetes confirms it (reconcile). */
export async function stopInstance(deps: InstancesDeps, instanceId: string, ctx: Pick<JobContext, 'clock'>) {
  const inst = await loadInstance(deps.db, instanceId);
  if (!inst || !['PENDING', 'PROVISIONING', 'RUNNING', 'DEGRADED'].includes(inst.status)) return { skipped: inst?.status ?? 'missing' };
  if (desiredReplicas(inst.subscription.status) === 1) return { skipped: `subscription ${inst.subscription.status}` };
  const { driver } = deps.cluster;
  const now = ctx.clock.now();
  // Nothing was applied yet (or there is no cluster): nothing runs, so it is stopped already.
  if (inst.status === 'PENDING' || !driver) {
    await deps.db.$transaction((tx) => transitionInstance(tx, instanceId, 'stopped', { now, data: { readyReplicas: 0 } }));
    deps.jobs.trigger('events.dispatch');
    return { stopped: true };
  }
  await driver.applyAll(manifestsOf(deps, inst, await credentialsOf(deps, inst), { replicas: 0 }));
  await later(deps, INSTANCE_QUEUES.reconcile, instanceId, 1);
  return { applied: true };
}

/** instance.delete: DELETING, the namespace deleted (everything the instance owns is in it), DELETED at its 404. */
export async function deleteInstance(deps: InstancesDeps, instanceId: string, ctx: Pick<JobContext, 'clock'>) {
  const inst = await loadInstance(deps.db, instanceId);
  if (!inst || inst.status === 'DELETED') return { skipped: inst?.status ?? 'missing' };
  const now = ctx.clock.now();
  if (inst.status !== 'DELETING') await deps.db.$transaction((tx) => transitionInstance(tx, instanceId, 'deleting', { now }));
  const { driver } = deps.cluster;
  if (!driver) {
    await deps.db.serviceInstance.update({ where: { id: instanceId }, data: { lastError: NO_CLUSTER_MESSAGE } });
    return { skipped: NO_CLUSTER_MESSAGE };
  }
  const result = await driver.deleteNamespace(inst.namespace, { waitMs: 0 });
  if (result === 'terminating') {
    await later(deps, INSTANCE_QUEUES.delete, instanceId, 2);
    return { terminating: true };
  }
  await deps.db.$transaction((tx) => transitionInstance(tx, instanceId, 'deleted', { now, data: { readyReplicas: 0, nodeName: null, workerNodeId: null, lastReconciledAt: now } }));
  deps.jobs.trigger('events.dispatch');
  return { deleted: true };
}

/**
 * instance.reconcile: reads the Deployment (and its pod's node) and moves the status to what
 * Kubernetes observed. A PROVISIONING one is looked at again shortly until it is complete or failed.
 */
export async function reconcileInstance(deps: InstancesDeps, instanceId: string, clock: Clock) {
  const inst = await loadInstance(deps.db, instanceId);
  const { driver } = deps.cluster;
  if (!inst || !driver || ['PENDING', 'FAILED', 'DELETED'].includes(inst.status)) return { skipped: inst?.status ?? 'missing' };
  const now = clock.now();
  const id = inst.id;
  const touch = (data: Parameters<Db['serviceInstance']['update']>[0]['data'] = {}) => deps.db.serviceInstance.update({ where: { id }, data: { ...data, lastReconciledAt: now } });
  if (inst.status === 'DELETING') {
    if ((await driver.namespacePhase(inst.namespace)) === null) {
      await deps.db.$transaction((tx) => transitionInstance(tx, id, 'deleted', { now, data: { readyReplicas: 0, nodeName: null, workerNodeId: null, lastReconciledAt: now } }));
      deps.jobs.trigger('events.dispatch');
    }
    return { status: inst.status };
  }
  const obs = await driver.deploymentStatus(inst.namespace);
  const desired = desiredReplicas(inst.subscription.status);
  const again = () => later(deps, INSTANCE_QUEUES.reconcile, id, now.getTime() - inst.lastTransitionAt.getTime() < 30_000 ? 1 : 5);
  if (!obs) {
    await touch();
    if (inst.status === 'PROVISIONING') await again();
    return { observed: null };
  }
  // The subscription was stopped while this replica set was being applied: stop it again.
  if (desired === 0 && obs.desiredReplicas !== 0) {
    deps.jobs.trigger(INSTANCE_QUEUES.stop, { instanceId: id }, { singletonKey: id });
    await touch();
    return { observed: obs.state, stopping: true };
  }
  let changed = false;
  if (obs.state === 'failed' && inst.status === 'PROVISIONING') {
    await fail(deps, inst, `The app did not become ready: ${obs.progressing?.message ?? 'ProgressDeadlineExceeded'}`, now);
    return { observed: obs.state };
  }
  if (obs.state === 'complete') {
    const placement = (await driver.podPlacements(inst.namespace)).find((p) => p.ready && !p.terminating);
    const nodeName = placement?.nodeName ?? null;
    const node = nodeName ? await deps.db.workerNode.findUnique({ where: { name: nodeName }, select: { id: true } }) : null;
    const data = { nodeName, workerNodeId: node?.id ?? null, readyReplicas: obs.availableReplicas, lastError: null, lastReconciledAt: now };
    if (inst.status === 'PROVISIONING' || inst.status === 'DEGRADED') {
      const first = inst.subscription.status === 'PENDING';
      changed = await deps.db.$transaction(async (tx) => {
        const t = await transitionInstance(tx, id, 'running', { now, data, eventData: { first, nodeName } });
        if (t && first) await transition(tx, inst.subscriptionId, 'activate', { now });
        return Boolean(t);
      });
    } else await touch(data);
  } else if (obs.state === 'stopped') {
    if (desired === 0) changed = Boolean(await deps.db.$transaction((tx) => transitionInstance(tx, id, 'stopped', { now, data: { readyReplicas: 0, nodeName: null, workerNodeId: null, lastReconciledAt: now } })));
    else await touch({ readyReplicas: 0 });
  } else if (inst.status === 'RUNNING' && obs.availableReplicas === 0) {
    // The second reconcile in a row without an available replica (the first wrote readyReplicas 0).
    if (inst.readyReplicas === 0) changed = Boolean(await deps.db.$transaction((tx) => transitionInstance(tx, id, 'degraded', { now, data: { lastReconciledAt: now } })));
    else await touch({ readyReplicas: 0 });
  } else {
    await touch({ readyReplicas: obs.availableReplicas });
    if (inst.status === 'PROVISIONING' || (desired === 0 && inst.status !== 'STOPPED')) await again();
  }
  if (changed) deps.jobs.trigger('events.dispatch');
  return { observed: obs.state, changed };
}

/** Carries out a subscription's instance effect: queues the instance job (the hook the subscriptions module calls after commit). */
export function instanceEffects(deps: Pick<InstancesDeps, 'db' | 'jobs' | 'logger'>) {
  const queueOf = { provision: INSTANCE_QUEUES.provision, resume: INSTANCE_QUEUES.provision, stop: INSTANCE_QUEUES.stop, delete: INSTANCE_QUEUES.delete } as const;
  return (effect: keyof typeof queueOf, subscriptionId: string, instanceId?: string): void => {
    const queue = (id: string) => deps.jobs.trigger(queueOf[effect], { instanceId: id }, { singletonKey: id });
    if (instanceId) return queue(instanceId);
    deps.db.serviceInstance.findUnique({ where: { subscriptionId }, select: { id: true } }).then(
      (inst) => {
        if (inst) queue(inst.id);
      },
      (err: unknown) => deps.logger.error(`Could not queue instance ${effect} of subscription ${subscriptionId}: ${message(err)}`),
    );
  };
}
