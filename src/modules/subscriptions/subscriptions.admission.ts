import { AppError } from '../../lib/errors/index.js';
import { inlineValues } from '../../lib/sql-transaction.js';
import { quantityAmount } from '../catalog/quantities.js';

/**
 * Admission, not scheduling: before a subscription is sold, is there room in the fleet for the
 * plan's requests? Kubernetes places the pod later; minispod only refuses what could not run
 * anywhere. A node counts when it is ACTIVE, ready, schedulable, has every label of the service's
 * nodeSelector, and the service tolerates each of its NoSchedule taints; the requests of instances
 * still waiting for a node are set against the fleet.
 *
 * The decision is the database function admit_instance (migration 20261202180000_admission_function),
 * the subscribing transaction's last statement, sent in one message with its COMMIT (subscribe's
 * script). Admissions run one at a time under an advisory lock, so the lock is held for the
 * function and the commit only, with no round trip to this process in between, and the commit
 * does not wait for its fsync (subscribe's script waits for it after the lock is released). What
 * the waiting instances owe is kept as running sums per nodeSelector (admission_owed, kept by a
 * trigger on service_instances and folded under the lock, migration 20261203030000_admission_owed):
 * summing the waiting rows themselves made a call grow from 0.5 ms with none waiting to 3.3 ms with
 * 4,000 (a fleet without a cluster, where every instance waits). The
 * function reads fitting nodes until their room covers what is wanted (usually one). Driven from
 * here, the same steps held the lock across four round trips and a read of 500 nodes.
 */

export interface PlanRequests {
  /** Millicores. */
  cpu: number;
  /** MB. */
  memoryMb: number;
}

export const planRequests = (service: { cpuRequest: string; memRequest: string }): PlanRequests => ({
  cpu: Number(quantityAmount('cpu', service.cpuRequest)),
  memoryMb: Math.ceil(Number(quantityAmount('memory', service.memRequest)) / 2 ** 20),
});

/** The last statement of a subscribing transaction: raises SOLD_OUT or NO_CAPACITY, or admits. */
export const admitStatement = (subscriptionId: string) => inlineValues('SELECT admit_instance($1)', [subscriptionId]);

/** The refusal admit_instance raised, as the API answers it; undefined for any other error. */
export function admissionRefusal(err: unknown, service: { displayName: string }): AppError | undefined {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e?.code !== 'P0001') return undefined;
  if (e.message === 'SOLD_OUT') return new AppError('SOLD_OUT', `${service.displayName} is sold out`);
  if (e.message === 'NO_CAPACITY') return new AppError('NO_CAPACITY', 'No worker node has room for this plan right now; try again later or choose a smaller plan');
  return undefined;
}
