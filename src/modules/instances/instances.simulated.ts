import type { Config } from '../../lib/config.js';
import type { Db } from '../../lib/db.js';
import { startKubeDouble } from '../../kube-double/index.js';
import { runAgent } from '../../agent/agent.js';
import type { NodeFacts } from '../../agent/system.js';
import { newAgentToken } from '../workers/index.js';
import { simulatedClusterAt, type InstanceCluster } from './instances.cluster.js';

/**
 * K8S_MODE=simulated: the Kubernetes API double on loopback, its nodes the registry's worker nodes
 * (name, labels, taints, allocatable from capacity), so the real client and everything above it
 * run as against a cluster. Development only (the config refuses it in production).
 */
export async function startSimulatedCluster(db: Db, config: Pick<Config, 'kubernetes'>): Promise<InstanceCluster & { stop: () => Promise<void> }> {
  const nodes = await db.workerNode.findMany({ where: { status: { not: 'INACTIVE' } }, select: { name: true, labels: true, taints: true, cpuCores: true, totalMemory: true, maxPods: true, isSchedulable: true } });
  const double = await startKubeDouble({
    kubeConfig: false,
    readyDelayMs: config.kubernetes.simulatedReadyDelayMs,
    nodes: nodes.map((n) => ({
      name: n.name,
      labels: (n.labels ?? {}) as Record<string, string>,
      taints: (n.taints ?? []) as { key: string; value?: string; effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' }[],
      unschedulable: !n.isSchedulable,
      allocatable: { cpu: String(n.cpuCores), memory: `${n.totalMemory}Mi`, pods: String(n.maxPods) },
    })),
  });
  return { ...simulatedClusterAt(double.url, double.token), stop: double.close };
}

/**
 * The simulated cluster's nodes run the reference agent (src/agent): each gets a fresh agent
 * token and reports its registry capacity through the real heartbeat protocol, so the seeded
 * fleet is ACTIVE and ready while `npm start` runs, as real nodes would be.
 */
export async function startSimulatedAgents(db: Db, api: string, log: (line: string) => void): Promise<{ stop: () => Promise<void> }> {
  const nodes = await db.workerNode.findMany({ where: { status: { not: 'INACTIVE' } } });
  const abort = new AbortController();
  // Every agent's token in one statement: an update per node, all at once, waited on the pool
  // past its connection timeout with a few thousand nodes and failed the start.
  const tokens = nodes.map(() => newAgentToken());
  if (nodes.length > 0) {
    await db.$executeRawUnsafe(
      `UPDATE worker_nodes w SET "agentTokenHash" = t.hash, "updatedAt" = now() AT TIME ZONE 'UTC' FROM unnest($1::text[], $2::text[]) AS t(id, hash) WHERE w.id = t.id`,
      nodes.map((n) => n.id),
      tokens.map((t) => t.hash),
    );
  }
  const runs = await Promise.all(
    nodes.map(async (n, i) => {
      const { token } = tokens[i]!;
      const facts = async (): Promise<NodeFacts> => ({
        cpuCores: n.cpuCores,
        totalMemory: Number(n.totalMemory),
        totalStorage: Number(n.totalStorage),
        architecture: n.architecture,
        cpuArchitecture: n.cpuArchitecture,
        operatingSystem: n.operatingSystem,
        kernelVersion: n.kernelVersion ?? 'simulated',
        osImage: n.osImage ?? 'simulated',
      });
      // Wrapped: returning the agent's promise itself would make this map wait for the agent to end.
      return { done: runAgent({ api, nodeId: n.id, token, facts, log: (line) => log(`${n.name}: ${line}`) }, abort.signal).catch((err: unknown) => log(`${n.name}: agent stopped: ${err instanceof Error ? err.message : String(err)}`)) };
    }),
  );
  return {
    stop: async () => {
      abort.abort();
      await Promise.all(runs.map((r) => r.done));
    },
  };
}
