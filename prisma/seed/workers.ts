import type { Prisma } from '../../src/generated/prisma/client.js';
import type { DbClient } from '../../src/lib/db.js';

const node = (name: string, zone: string, arch: 'amd64' | 'arm64', ip: string, size: { cpuCores: number; totalMemory: bigint; totalStorage: bigint }): Prisma.WorkerNodeCreateManyInput => ({
  name,
  hostname: `${name}.cluster.local`,
  ipAddress: ip,
  ...size,
  cpuArchitecture: arch === 'amd64' ? 'x86_64' : 'aarch64',
  architecture: arch,
  operatingSystem: 'Ubuntu 22.04 LTS',
  osImage: 'Ubuntu 22.04.3 LTS',
  kernelVersion: '5.15.0-78-generic',
  kubeletVersion: 'v1.28.0',
  containerRuntime: 'containerd://1.7.0',
  // Operator intent: ready to take workloads once an agent reports them healthy. Until then they
  // stay PENDING and not ready, which is the truth for nodes nobody runs an agent on.
  isSchedulable: true,
  labels: {
    'kubernetes.io/hostname': name,
    'kubernetes.io/arch': arch,
    'kubernetes.io/os': 'linux',
    'topology.kubernetes.io/region': 'us-west-1',
    'topology.kubernetes.io/zone': zone,
    'node-role.kubernetes.io/worker': '',
  },
  taints: [],
});

export const SEED_WORKERS: readonly Prisma.WorkerNodeCreateManyInput[] = [
  node('worker-node-01', 'us-west-1a', 'amd64', '192.168.1.101', { cpuCores: 8, totalMemory: 32768n, totalStorage: 500000n }),
  node('worker-node-02', 'us-west-1b', 'amd64', '192.168.1.102', { cpuCores: 16, totalMemory: 65536n, totalStorage: 1000000n }),
  node('worker-node-03', 'us-west-1c', 'arm64', '192.168.1.103', { cpuCores: 4, totalMemory: 16384n, totalStorage: 250000n }),
];

/**
 * Creates the seeded nodes that are missing (by name); existing ones are left exactly as they are.
 * Seeded nodes have no agent token: rotate one with POST /workers/:nodeId/token to run an agent.
 */
export async function seedWorkers(db: DbClient): Promise<number> {
  const existing = new Set((await db.workerNode.findMany({ where: { name: { in: SEED_WORKERS.map((n) => n.name) } }, select: { name: true } })).map((n) => n.name));
  const missing = SEED_WORKERS.filter((n) => !existing.has(n.name));
  if (missing.length === 0) return 0;
  return (await db.workerNode.createMany({ data: missing, skipDuplicates: true })).count;
}
