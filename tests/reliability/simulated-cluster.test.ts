import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDb, type DbHandle } from '../../src/lib/db.js';
import { createNode } from '../factories/index.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { createDatabase, dropDatabase } from '../helpers/test-database.js';

// `npm start` in development: the simulated cluster's nodes are the registry's, and each runs the
// reference agent, so a fleet nobody runs agents for is ACTIVE and ready once the server is up.
const adminUrl = inject('adminDatabaseUrl');
let databaseUrl: string;
let handle: DbHandle;
let server: ServerProcess | undefined;

beforeAll(async () => {
  databaseUrl = await createDatabase(adminUrl, 'minispod_simulated', inject('templateDatabaseUrl'));
  handle = createDb({ url: databaseUrl, poolMax: 2 });
});
afterAll(async () => {
  server?.kill();
  await handle?.close();
  if (databaseUrl) await dropDatabase(adminUrl, databaseUrl);
});

describe('K8S_MODE=simulated', () => {
  it("runs the reference agent for every registry node: they report ready through the heartbeat protocol", async () => {
    const nodes = await Promise.all([createNode(handle.db, { status: 'PENDING', isReady: false }), createNode(handle.db, { status: 'PENDING', isReady: false })]);
    const retired = await createNode(handle.db, { status: 'INACTIVE', isReady: false });
    server = await startServerProcess({ DATABASE_URL: databaseUrl, K8S_MODE: 'simulated', JOBS_ENABLED: 'true' });
    await expect
      .poll(async () => (await handle.db.workerNode.findMany({ where: { id: { in: nodes.map((n) => n.node.id) } } })).map((n) => [n.status, n.isReady, n.lastHeartbeat !== null]), { timeout: 20_000 })
      .toEqual([
        ['ACTIVE', true, true],
        ['ACTIVE', true, true],
      ]);
    // Each agent got a fresh token: the one the factory made no longer works.
    const res = await fetch(`${server.base}/api/v1/workers/${nodes[0]?.node.id}/heartbeat`, { method: 'POST', headers: { authorization: nodes[0]?.auth as string, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
    expect((await handle.db.workerNode.findUniqueOrThrow({ where: { id: retired.node.id } })).status).toBe('INACTIVE');
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  }, 60_000);
});
