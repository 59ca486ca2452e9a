import type { Prisma } from '../../src/generated/prisma/client.js';
import type { Db } from '../../src/lib/db.js';
import { newAgentToken } from '../../src/modules/workers/workers.agent-auth.js';
import { unique } from './unique.js';

export type NodeOverrides = Partial<Omit<Prisma.WorkerNodeCreateInput, 'agentTokenHash'>>;

/** Creates a worker node directly in the database, with an agent token the test can use. */
export async function createNode(db: Db, overrides: NodeOverrides = {}) {
  const name = overrides.name ?? unique('node');
  const { token, hash } = newAgentToken();
  const node = await db.workerNode.create({
    data: {
      name,
      hostname: `${name}.cluster.test`,
      ipAddress: '10.0.0.10',
      cpuCores: 8,
      cpuArchitecture: 'x86_64',
      totalMemory: 32768n,
      totalStorage: 500000n,
      architecture: 'amd64',
      operatingSystem: 'Ubuntu 22.04 LTS',
      ...overrides,
      agentTokenHash: hash,
    },
  });
  return { node, agentToken: token, auth: `Bearer ${token}` };
}
