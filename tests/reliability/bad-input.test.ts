import type { Server } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startKubeDouble, type KubeDouble } from '../../src/kube-double/index.js';
import { runPrisma } from '../../src/lib/migrate.js';
import { clusterOf } from '../../src/modules/instances/index.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { envelopeProblems, sensitiveLeaks, snapshotTables } from '../helpers/fuzz-oracle.js';
import { listOperations, requestPlanArbitrary, sendRaw, type Operation } from '../helpers/fuzz-requests.js';
import type { OpenApiDoc } from '../helpers/fuzz-schema.js';
import { refreshWorld, resolvePlan, seedWorld, type FuzzWorld } from '../helpers/fuzz-world.js';
import { startMidtransDouble, type MidtransDouble } from '../helpers/midtrans-double.js';
import { createDatabase, dropDatabase } from '../helpers/test-database.js';

// Property-based bad input on every operation of the OpenAPI document. The suite runs on a database
// of its own so that a snapshot of every table before and after a rejected request proves the
// request changed nothing. FUZZ_CASES sets the total number of cases, FUZZ_SEED replays a run.
const TOTAL_CASES = Number(process.env.FUZZ_CASES ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** A request slower than this on a local database points at quadratic parsing or a ReDoS. */
const SLOW_MS = 3000;

const probe = createTestContext();
const doc = probe.app.locals.openapi as unknown as OpenApiDoc;
const operations = listOperations(doc);
await probe.close();
const runsPerOperation = Math.max(10, Math.ceil(TOTAL_CASES / operations.length));

const adminUrl = inject('adminDatabaseUrl');
let databaseUrl: string;
let ctx: TestContext;
let server: Server;
let base: string;
let world: FuzzWorld;
let midtrans: MidtransDouble | undefined;
let kube: KubeDouble | undefined;
const stats = { cases: 0, byStatus: new Map<number, number>(), accepted: 0, slowest: 0, byOperation: new Map<string, Map<number, number>>() };
const count = (map: Map<number, number>, status: number) => map.set(status, (map.get(status) ?? 0) + 1);
const format = (map: Map<number, number>) => [...map.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(', ');

beforeAll(async () => {
  databaseUrl = await createDatabase(adminUrl, 'minispod_fuzz');
  await runPrisma(['migrate', 'deploy'], databaseUrl);
  // Midtrans keys pointing at the Midtrans double and a cluster (the Kubernetes API double):
  // top-ups, Midtrans' notifications and instances run as in production instead of answering 503
  // PAYMENT_PROVIDER_DISABLED or SERVICE_UNAVAILABLE.
  [midtrans, kube] = await Promise.all([startMidtransDouble(), startKubeDouble()]);
  ctx = createTestContext({ env: { DATABASE_URL: databaseUrl, ...midtrans.env }, cluster: clusterOf('simulated', kube.kubeConfig) });
  server = ctx.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  world = await seedWorld(ctx.db, ctx.config);
});

afterAll(async () => {
  if (server) await new Promise((resolve) => server.close(resolve));
  await ctx?.close();
  await midtrans?.close();
  await kube?.close();
  if (databaseUrl) await dropDatabase(adminUrl, databaseUrl);
  const statuses = format(stats.byStatus);
  // eslint-disable-next-line no-console
  if (process.env.FUZZ_VERBOSE) for (const [op, map] of stats.byOperation) console.log(`${op}: ${format(map)}`);
  // The lead reports this figure in the closing note.
  // eslint-disable-next-line no-console
  console.log(`bad-input fuzz: ${stats.cases} cases over ${operations.length} operations (seed ${SEED}); ${stats.accepted} accepted (2xx), statuses { ${statuses} }, slowest ${stats.slowest} ms`);
});

async function runCase(op: Operation, plan: Parameters<typeof resolvePlan>[2]) {
  const request = resolvePlan(world, op, plan);
  const res = await sendRaw(base, request);
  stats.cases++;
  count(stats.byStatus, res.status);
  const key = `${op.method.toUpperCase()} ${op.path}`;
  count(stats.byOperation.get(key) ?? stats.byOperation.set(key, new Map()).get(key)!, res.status);
  stats.slowest = Math.max(stats.slowest, res.ms);
  const where = `${request.method.toUpperCase()} ${request.path.slice(0, 200)} body ${String(request.body).slice(0, 200)}`;
  expect(envelopeProblems(res), where).toEqual([]);
  expect(sensitiveLeaks(res.text, world.secrets), where).toEqual([]);
  expect(res.ms, `${where} took ${res.ms} ms`).toBeLessThan(SLOW_MS);
  if (res.status < 300) {
    stats.accepted++;
    await refreshWorld(ctx.db, ctx.config, world);
    return;
  }
  expect(await snapshotTables(ctx.db), `${where} answered ${res.status} but changed the database`).toEqual(world.snapshot);
}

describe('bad input on every operation of the OpenAPI document', () => {
  it('finds the operations to fuzz in the document', () => {
    expect(operations.length).toBeGreaterThan(30);
    expect(operations.filter((o) => o.body).length).toBeGreaterThan(10);
  });

  it.each(operations.map((op, i) => [`${op.method.toUpperCase()} ${op.path}`, op, i] as const))(
    '%s: never 5xx, every 4xx in the error envelope and changing nothing',
    async (_name, op, index) => {
      const seed = SEED + index;
      const details = await fc.check(fc.asyncProperty(requestPlanArbitrary(doc, op), (plan) => runCase(op, plan)), {
        numRuns: runsPerOperation,
        seed,
        endOnFailure: process.env.FUZZ_SHRINK !== '1',
      });
      // fast-check's own report prints the whole counterexample, which can be a 100 kB body.
      if (details.failed) {
        const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
        throw new Error(`${cause.slice(0, 1500)}\n(replay: FUZZ_SEED=${seed - index}, fast-check seed ${seed}, path ${details.counterexamplePath})`);
      }
    },
    120_000,
  );

  it("let no fuzzed notification past Midtrans' signature check: the status API was never asked", () => {
    expect(stats.cases).toBeGreaterThan(0);
    expect(midtrans?.requests.filter((r) => r.path.startsWith('/v2/'))).toEqual([]);
  });
});
