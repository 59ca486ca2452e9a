import type { DbClient, Prisma } from '../../lib/db.js';
import { AppError } from '../../lib/errors/index.js';
import { recordEvent } from '../../lib/events.js';
import type { InstanceStatus } from '../../generated/prisma/enums.js';

interface Rule {
  from: readonly InstanceStatus[];
  to: InstanceStatus;
  /** The DomainEvent written with it (also its webhook type); none for DELETING. */
  event?: string;
}

const LIVE = ['PENDING', 'PROVISIONING', 'RUNNING', 'DEGRADED', 'STOPPED', 'FAILED'] as const;

/**
 * Every way an instance's status can change, as (from, event, to). transitionInstance() is the only
 * code that applies them: one conditional UPDATE and the event, in the caller's transaction. The
 * status always follows what Kubernetes reported (or the job that asked it), never a timer.
 */
export const INSTANCE_TRANSITIONS = {
  /** The provision job starts applying: on create, resume, or a retry of a FAILED one. */
  provision: { from: ['PENDING', 'STOPPED', 'FAILED'], to: 'PROVISIONING', event: 'instance.provisioning' },
  /** The Deployment is complete (observed generation, an available replica, NewReplicaSetAvailable). */
  running: { from: ['PROVISIONING', 'DEGRADED'], to: 'RUNNING', event: 'instance.running' },
  /** No replica available on two reconciles in a row. */
  degraded: { from: ['RUNNING'], to: 'DEGRADED', event: 'instance.degraded' },
  /** Kubernetes confirms zero replicas. */
  stopped: { from: ['PENDING', 'PROVISIONING', 'RUNNING', 'DEGRADED'], to: 'STOPPED', event: 'instance.stopped' },
  /** ProgressDeadlineExceeded, a manifest the cluster refuses, or the provision job's retries ran out. */
  failed: { from: ['PENDING', 'PROVISIONING'], to: 'FAILED', event: 'instance.failed' },
  deleting: { from: LIVE, to: 'DELETING' },
  /** The namespace GET answers 404. */
  deleted: { from: ['DELETING'], to: 'DELETED', event: 'instance.deleted' },
} as const satisfies Record<string, Rule>;

export type InstanceTransitionName = keyof typeof INSTANCE_TRANSITIONS;

export interface InstanceTransitionResult {
  id: string;
  status: InstanceStatus;
  subscriptionId: string;
}

/**
 * Applies `name`: `UPDATE ... WHERE id AND status IN (from)` and the rule's event in the same
 * transaction. Undefined when the instance is no longer in a state the rule starts from (a
 * concurrent job moved it first): jobs then simply have nothing to do.
 */
export async function transitionInstance(
  tx: DbClient,
  id: string,
  name: InstanceTransitionName,
  input: { now: Date; data?: Prisma.ServiceInstanceUncheckedUpdateManyInput; eventData?: Prisma.InputJsonObject },
): Promise<InstanceTransitionResult | undefined> {
  const rule: Rule = INSTANCE_TRANSITIONS[name];
  const [row] = await tx.serviceInstance.updateManyAndReturn({
    where: { id, status: { in: [...rule.from] } },
    data: { ...input.data, status: rule.to, lastTransitionAt: input.now },
    select: { id: true, status: true, subscriptionId: true, url: true, nodeName: true },
  });
  if (!row) return undefined;
  if (rule.event) {
    const sub = await tx.subscription.findUniqueOrThrow({ where: { id: row.subscriptionId }, select: { userId: true } });
    await recordEvent(
      tx,
      { type: rule.event, userId: sub.userId, subjectType: 'instance', subjectId: id, data: { instanceId: id, subscriptionId: row.subscriptionId, status: row.status, url: row.url, nodeName: row.nodeName, ...input.eventData } },
      input.now,
    );
  }
  return { id, status: row.status, subscriptionId: row.subscriptionId };
}

/** For routes: the same transition, but 409 INVALID_STATE when it does not apply. */
export async function requireTransition(tx: DbClient, id: string, name: InstanceTransitionName, input: Parameters<typeof transitionInstance>[3]): Promise<InstanceTransitionResult> {
  const result = await transitionInstance(tx, id, name, input);
  if (result) return result;
  const current = await tx.serviceInstance.findUnique({ where: { id }, select: { status: true } });
  if (!current) throw new AppError('NOT_FOUND', `Instance '${id}' not found`);
  throw new AppError('INVALID_STATE', `The instance is ${current.status}: it cannot ${name} now`);
}
