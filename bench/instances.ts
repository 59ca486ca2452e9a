// The cluster scenarios, run in this process: the bench API runs with NODE_ENV=production, where
// K8S_MODE=simulated is refused, so the Kubernetes API double (no readiness delay) and a job runner
// with the instance queues (in a pg-boss schema of its own, so the API's runner, which has no
// cluster, never takes these jobs) run here against the bench database, through the real client.
// `provision`: 200 PENDING subscriptions' instances queued at once, timed until every one is
// RUNNING (apply, reconcile, activation). `reconcile`: 2,000 live instances (provisioned first,
// untimed), then one reconcile pass over them (the every-minute cron's handler), timed, with the
// heartbeat rate during it against the rate alone before and after.
import { startKubeDouble } from '../src/kube-double/index.js';
import { loadConfig } from '../src/lib/config.js';
import { createDb } from '../src/lib/db.js';
import { createJobRunner } from '../src/lib/jobs.js';
import { createLogger } from '../src/lib/logger.js';
import { clusterOf, instanceQueues } from '../src/modules/instances/index.js';
import { runLoad, type LoadResult } from './load.js';
import type { Report } from './report.js';
import type { Scenario } from './scenarios.js';

export const PROVISION_COUNT = 200;
export const RECONCILE_COUNT = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function instancesPhase(databaseUrl: string, heartbeat: Scenario | undefined, which: { provision: boolean; reconcile: boolean }, report: Report, log: (line: string) => void): Promise<void> {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', LOG_FILES: 'false', JWT_SECRET: 'x'.repeat(32), DATA_DIR: '.data/bench', APPS_DOMAIN: 'apps.bench.test' });
  const logger = createLogger(config);
  // The double answers for a cluster that in production runs on its own machines: its write
  // validation (the API server's work, kubernetes-models here) is left out of this process's CPU.
  // minispod still validates every manifest itself before sending it.
  const kube = await startKubeDouble({ readyDelayMs: 0, validate: false, nodes: Array.from({ length: 4 }, (_, i) => ({ name: `bench-node-${i + 1}`, allocatable: { cpu: '2000', memory: '4000Gi', pods: '5000' } })) });
  const cluster = clusterOf('simulated', kube.kubeConfig);
  const handle = createDb({ url: databaseUrl, poolMax: 10 });
  const db = handle.db;
  const runner = createJobRunner({ url: databaseUrl, schema: 'pgboss_bench_k8s', queues: (jobs) => instanceQueues({ db, config, logger, cluster }, jobs), logger, timezone: 'UTC', pollIntervalSeconds: 0.5, graceMs: 5000 });
  await runner.start();
  const sql = (text: string, values: unknown[] = []) => db.$executeRawUnsafe(text, ...values);
  /** PENDING subscriptions of distinct bench users to bench-svc-1 with their PENDING instances; their ids. */
  const seed = async (prefix: string, count: number, offset: number) => {
    // Users the subscribe scenario made buyers of bench-svc-1 already are left out (one live subscription per user and service).
    const base = `SELECT 'bench-' || '${prefix}' || '-' || u.id AS id, u.id AS uid FROM (SELECT id FROM users WHERE role = 'USER'
      AND NOT EXISTS (SELECT 1 FROM subscriptions x WHERE x."userId" = users.id AND x."serviceId" = 'bench-svc-1' AND x.id NOT LIKE 'bench-${prefix}-%')
      ORDER BY id OFFSET ${offset} LIMIT ${count}) u`;
    await sql(`INSERT INTO subscriptions (id, "userId", "serviceId", status, "startDate", "createdAt", "updatedAt", "currentPeriodStart", "currentPeriodEnd", "billingAnchorDay", "priceAmount", currency)
               SELECT s.id, s.uid, 'bench-svc-1', 'PENDING', now(), now(), now(), now(), now() + interval '1 month', 1, 11000, 'IDR' FROM (${base}) s ON CONFLICT DO NOTHING`);
    await sql(`INSERT INTO service_instances (id, "subscriptionId", status, "shortId", namespace, host, url, "cpuRequestMillis", "memoryRequestMb", "lastTransitionAt", "createdAt", "updatedAt")
               SELECT 'i' || s.id, s.id, 'PENDING', k.short, 'msp-' || k.short, 'bench-service-1-' || k.short || '.apps.bench.test', 'https://bench-service-1-' || k.short || '.apps.bench.test', 250, 256, now(), now(), now()
               FROM (${base}) s, LATERAL (SELECT substr(md5(s.id), 1, 10) AS short) k ON CONFLICT DO NOTHING`);
    return (await db.serviceInstance.findMany({ where: { id: { startsWith: `ibench-${prefix}-` } }, select: { id: true } })).map((r) => r.id);
  };
  const running = (ids: string[]) => db.serviceInstance.count({ where: { id: { in: ids }, status: 'RUNNING' } });
  const provisionAll = async (ids: string[], limitMs: number) => {
    const t0 = Date.now();
    for (const id of ids) runner.trigger('instance.provision', { instanceId: id }, { singletonKey: id });
    let done = 0;
    while (done < ids.length && Date.now() - t0 < limitMs) {
      await sleep(100);
      done = await running(ids);
    }
    return { done, seconds: (Date.now() - t0) / 1000 };
  };
  const row = (scenario: string, description: string, r: Partial<LoadResult> & { requests: number; seconds: number }) =>
    report.rows.push({ scenario, description, rps: Math.round(r.requests / r.seconds), p50: 0, p90: 0, p99: 0, max: Math.round(r.seconds * 1000), non2xx: 0, errors: 0, timeouts: 0, ...r });
  try {
    if (which.provision) {
      const ids = await seed('prov', PROVISION_COUNT, 0);
      log(`provision: ${ids.length} instances queued at once, the double with no readiness delay`);
      const r = await provisionAll(ids, 120_000);
      const active = await db.subscription.count({ where: { id: { startsWith: 'bench-prov-' }, status: 'ACTIVE' } });
      row('provision', `${ids.length} PENDING instances to RUNNING through instance.provision/reconcile on the simulated cluster (req/s: instances per second)`, { requests: r.done, seconds: r.seconds, non2xx: ids.length - r.done });
      report.notes.push(`provision: ${r.done} of ${ids.length} RUNNING (${active} subscriptions ACTIVE) in ${r.seconds.toFixed(1)} s; ${kube.requests.count()} requests reached the API double`);
    }
    if (which.reconcile) {
      const ids = await seed('rec', RECONCILE_COUNT, PROVISION_COUNT);
      log(`reconcile: provisioning ${ids.length} instances first (not timed)`);
      const setup = await provisionAll(ids, 600_000);
      log(`reconcile: ${setup.done} RUNNING after ${setup.seconds.toFixed(0)} s`);
      const spec = runner.queues.find((q) => q.name === 'instance.reconcile');
      if (!spec) throw new Error('no instance.reconcile queue');
      const pass = async () => {
        const t0 = Date.now();
        const out = (await spec.handler({}, { clock: { now: () => new Date() }, logger, jobId: 'bench-reconcile', retryCount: 0, lastAttempt: false })) as { reconciled: number; unchanged?: number; failed: number };
        return { ...out, seconds: (Date.now() - t0) / 1000 };
      };
      const alone = await pass();
      row('reconcile', `one reconcile pass over the live instances (${alone.reconciled} read back from the cluster, ${alone.unchanged ?? 0} of them unchanged; req/s: instances per second)`, { requests: alone.reconciled, seconds: alone.seconds, errors: alone.failed });
      if (heartbeat) {
        // At least 5 s: the passes run back to back through it, and a short window is mostly noise.
        const window = Math.max(5, Math.floor(alone.seconds * 0.8));
        const hb = () => runLoad({ ...heartbeat.spec, duration: window, warmup: 1 });
        log(`heartbeat alone, ${window}s`);
        const before = await hb();
        // Passes back to back for the whole window (after its 1 s warm-up), so a pass shorter than
        // the window cannot leave part of it unloaded.
        let loading = true;
        const load = hb().finally(() => (loading = false));
        await sleep(1000);
        const during: number[] = [];
        while (loading) during.push((await pass()).seconds);
        const withPass = await load;
        const after = await hb();
        const baseline = (before.rps + after.rps) / 2;
        const passes = `${during.length} pass${during.length === 1 ? '' : 'es'} back to back (${during.map((s) => s.toFixed(1)).join(', ')} s)`;
        report.rows.push({ scenario: 'heartbeat-during-reconcile', description: `heartbeats during ${passes}; "ceiling" here is heartbeats alone, before and after`, ...withPass, ceilingRps: Math.round(baseline), ofCeiling: Math.round((withPass.rps / baseline) * 1000) / 10 });
      }
    }
  } finally {
    await runner.stop();
    await handle.close();
    await kube.close();
  }
}
