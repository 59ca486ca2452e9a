import type { Clock } from '../../lib/jobs.js';
import type { InstancesDeps } from './instances.provisioning.js';

/**
 * The cluster-wide housekeeping jobs: usage.collect (what metrics.k8s.io reports for every
 * running instance, one row per instance and 15-minute window) and maintenance.sweep (namespaces
 * minispod manages that no live instance row owns: reported, then deleted after a grace).
 */

export const USAGE_WINDOW_MS = 15 * 60_000;
export const ORPHAN_GRACE_MS = 60 * 60_000;
/** Written on an orphan namespace when the sweep first sees it: the grace survives restarts. */
export const ORPHANED_AT_ANNOTATION = 'minispod.io/orphaned-at';
const SWEEPER = 'minispod-sweeper';

type Deps = Pick<InstancesDeps, 'db' | 'logger' | 'cluster'>;

/** The window a collection at `now` records: the last whole 15 minutes, so two runs in one window write one row. */
export function usageWindow(now: Date): { start: Date; end: Date } {
  const end = Math.floor(now.getTime() / USAGE_WINDOW_MS) * USAGE_WINDOW_MS;
  return { start: new Date(end - USAGE_WINDOW_MS), end: new Date(end) };
}

/** usage.collect: quietly nothing without a cluster or without its metrics API. */
export async function collectUsage(deps: Deps, clock: Clock, options: { batch?: number } = {}) {
  const { driver } = deps.cluster;
  if (!driver || !(await driver.metricsAvailable())) return { skipped: 'no metrics API' };
  const window = usageWindow(clock.now());
  const rows = await deps.db.serviceInstance.findMany({ where: { status: { in: ['RUNNING', 'DEGRADED'] } }, select: { id: true, namespace: true }, orderBy: { id: 'asc' } });
  let recorded = 0;
  let failed = 0;
  const size = options.batch ?? 20;
  for (let i = 0; i < rows.length; i += size) {
    const results = await Promise.allSettled(
      rows.slice(i, i + size).map(async (r) => {
        const pods = await driver.podMetrics(r.namespace, { discovered: true });
        if (!pods || pods.length === 0) return 0;
        const data = {
          instanceId: r.id,
          windowStart: window.start,
          windowEnd: window.end,
          cpuMillicores: pods.reduce((s, p) => s + p.cpuMillicores, 0),
          memoryBytes: BigInt(pods.reduce((s, p) => s + p.memoryBytes, 0)),
          pods: pods.length,
        };
        // skipDuplicates: a second run in the same window (a retry, another process) keeps the first sample.
        return (await deps.db.usageMetric.createMany({ data: [data], skipDuplicates: true })).count;
      }),
    );
    for (const r of results) {
      if (r.status === 'fulfilled') recorded += r.value;
      else failed += 1;
    }
  }
  if (failed > 0) deps.logger.warn(`Usage: ${failed} of ${rows.length} instance(s) had no metrics from the cluster this window`);
  return { instances: rows.length, recorded, failed };
}

/**
 * maintenance.sweep: a managed namespace with no instance row, or only a DELETED one, is an orphan
 * (a crash between a delete and its row, a row removed by hand). It is logged and annotated on
 * first sight, and deleted once the annotation is older than the grace; running it twice, or
 * in two processes at once, deletes each namespace once at most (deleting one is idempotent).
 */
export async function sweepOrphanNamespaces(deps: Deps, clock: Clock, options: { graceMs?: number } = {}) {
  const { driver } = deps.cluster;
  if (!driver) return { skipped: 'no cluster' };
  const now = clock.now();
  const grace = options.graceMs ?? ORPHAN_GRACE_MS;
  const namespaces = (await driver.managedNamespaces()).filter((ns) => ns.phase !== 'Terminating');
  const owned = await deps.db.serviceInstance.findMany({ where: { namespace: { in: namespaces.map((n) => n.name) }, status: { not: 'DELETED' } }, select: { namespace: true } });
  const live = new Set(owned.map((o) => o.namespace));
  const orphans = namespaces.filter((ns) => !live.has(ns.name));
  let marked = 0;
  let deleted = 0;
  for (const ns of orphans) {
    const obj = await driver.read({ apiVersion: 'v1', kind: 'Namespace', name: ns.name });
    const seen = obj?.metadata?.annotations?.[ORPHANED_AT_ANNOTATION];
    const since = seen ? new Date(seen) : null;
    if (!since || Number.isNaN(since.getTime())) {
      deps.logger.warn(`Sweep: namespace ${ns.name} (instance ${ns.instanceId ?? 'unknown'}) has no live instance; it will be deleted after ${Math.round(grace / 60_000)} min unless an instance claims it`);
      await driver.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns.name, annotations: { [ORPHANED_AT_ANNOTATION]: now.toISOString() } } }, { fieldManager: SWEEPER, force: true });
      marked += 1;
    } else if (now.getTime() - since.getTime() >= grace) {
      deps.logger.warn(`Sweep: deleting orphan namespace ${ns.name} (no live instance since ${since.toISOString()})`);
      await driver.deleteNamespace(ns.name, { waitMs: 0 });
      deleted += 1;
    }
  }
  return { namespaces: namespaces.length, orphans: orphans.length, marked, deleted };
}
