import type { Config } from '../../lib/config.js';
import type { Db } from '../../lib/db.js';
import { startKubeDouble } from '../../kube-double/index.js';
import { clusterOf, type InstanceCluster } from './instances.cluster.js';

/**
 * K8S_MODE=simulated: the Kubernetes API double on loopback, its nodes the registry's worker nodes
 * (name, labels, taints, allocatable from capacity), so the real client and everything above it
 * run as against a cluster. Development only (the config refuses it in production).
 */
export async function startSimulatedCluster(db: Db, config: Pick<Config, 'kubernetes'>): Promise<InstanceCluster & { stop: () => Promise<void> }> {
  const nodes = await db.workerNode.findMany({ where: { status: { not: 'INACTIVE' } }, select: { name: true, labels: true, taints: true, cpuCores: true, totalMemory: true, maxPods: true, isSchedulable: true } });
  const double = await startKubeDouble({
    readyDelayMs: config.kubernetes.simulatedReadyDelayMs,
    nodes: nodes.map((n) => ({
      name: n.name,
      labels: (n.labels ?? {}) as Record<string, string>,
      taints: (n.taints ?? []) as { key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[],
      unschedulable: !n.isSchedulable,
      allocatable: { cpu: String(n.cpuCores), memory: `${n.totalMemory}Mi`, pods: String(n.maxPods) },
    })),
  });
  return { ...clusterOf('simulated', double.kubeConfig), stop: double.close };
}
