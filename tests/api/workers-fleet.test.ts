import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { SEED_WORKERS, seedWorkers } from '../../prisma/seed/workers.js';
import { createLogger } from '../../src/lib/logger.js';
import { runPrisma } from '../../src/lib/migrate.js';
import type { Db } from '../../src/lib/db.js';
import { startBackgroundJobs } from '../../src/modules/workers/index.js';
import { createNodeBody } from '../../src/modules/workers/workers.schemas.js';
import { sweepStaleNodes } from '../../src/modules/workers/workers.sweeper.js';
import { createAdmin, createNode } from '../factories/index.js';
import { createTestContext, testConfig, type TestContext } from '../helpers/app.js';
import { captureLogs } from '../helpers/capture-logs.js';
import { createDatabase, dropDatabase } from '../helpers/test-database.js';

// Fleet-wide answers (stats, online/offline, the sweeper) are checked on a database of their own,
// so exact counts and sums can be asserted while other files create nodes in parallel.
const GRACE = 30;
const adminUrl = inject('adminDatabaseUrl');
let url: string;
let ctx: TestContext;
let db: Db;
let admin: string;

beforeAll(async () => {
  url = await createDatabase(adminUrl, 'minispod_workers');
  await runPrisma(['migrate', 'deploy'], url);
  ctx = createTestContext({ env: { DATABASE_URL: url, HEARTBEAT_GRACE_SECONDS: String(GRACE) } });
  db = ctx.db;
  admin = (await createAdmin(db, ctx.config)).auth;
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  if (url) await dropDatabase(adminUrl, url);
});

beforeEach(async () => {
  await db.workerNode.deleteMany();
});

const ago = (seconds: number, from = Date.now()) => new Date(from - seconds * 1000);
const rowOf = (id: string) => db.workerNode.findUniqueOrThrow({ where: { id } });

describe('GET /api/v1/workers/stats', () => {
  it('answers zeros for an empty fleet', async () => {
    const res = await ctx.request.get('/api/v1/workers/stats').set('Authorization', admin).expect(200);
    expect(res.body.data).toMatchObject({
      total: 0,
      online: 0,
      capacity: { cpuCores: 0, memoryMB: '0', storageMB: '0', pods: 0 },
      utilization: { cpu: 0, memory: 0, storage: 0, pods: 0 },
    });
  });

  it('matches hand-computed counts, sums and utilisation', async () => {
    await createNode(db, { status: 'ACTIVE', isReady: true, isSchedulable: true, cpuCores: 8, allocatedCPU: 2.5, totalMemory: 32768n, allocatedMemory: 8192n, totalStorage: 500000n, allocatedStorage: 100000n, maxPods: 110, currentPods: 10, lastHeartbeat: ago(5) });
    await createNode(db, { status: 'MAINTENANCE', cpuCores: 4, totalMemory: 16384n, totalStorage: 250000n, lastHeartbeat: ago(600) });
    await createNode(db, { status: 'NOT_READY', isSchedulable: true, cpuCores: 16, allocatedCPU: 3.25, totalMemory: 65536n, allocatedMemory: 16384n, totalStorage: 1000000n, allocatedStorage: 500000n, maxPods: 250, currentPods: 40, lastHeartbeat: ago(20) });
    await createNode(db, { cpuCores: 2, totalMemory: 4096n, totalStorage: 20000n, lastHeartbeat: ago(100) });
    await createNode(db, { status: 'INACTIVE', cpuCores: 2, totalMemory: 2048n, totalStorage: 10000n, lastHeartbeat: ago(3600) });

    const before = Date.now();
    const res = await ctx.request.get('/api/v1/workers/stats').set('Authorization', admin).expect(200);
    expect(Date.parse(res.body.data.computedAt)).toBeGreaterThanOrEqual(before);
    expect(res.body.data).toEqual({
      computedAt: expect.any(String),
      total: 5,
      byStatus: { ACTIVE: 1, INACTIVE: 1, MAINTENANCE: 1, PENDING: 1, NOT_READY: 1 },
      ready: 1,
      notReady: 4,
      schedulable: 2,
      unschedulable: 3,
      online: 2,
      offline: 3,
      heartbeatGraceSeconds: GRACE,
      capacity: { cpuCores: 32, memoryMB: '120832', storageMB: '1780000', pods: 690 },
      allocated: { cpuCores: 5.75, memoryMB: '24576', storageMB: '600000', pods: 50 },
      // 5.75/32, 24576/120832, 600000/1780000, 50/690
      utilization: { cpu: 17.97, memory: 20.34, storage: 33.71, pods: 7.25 },
      instances: { total: 0, byStatus: { PENDING: 0, PROVISIONING: 0, RUNNING: 0, DEGRADED: 0, STOPPED: 0, FAILED: 0, DELETING: 0, DELETED: 0 }, onNodes: 0 },
    });
  });
});

describe('GET /api/v1/workers/stats with WORKER_STATS_MAX_AGE_MS', () => {
  it('answers every request from one snapshot while it is younger than the limit, and says when it was computed', async () => {
    const snapshotCtx = createTestContext({ env: { DATABASE_URL: url, HEARTBEAT_GRACE_SECONDS: String(GRACE), WORKER_STATS_MAX_AGE_MS: '60000' } });
    try {
      await createNode(db, { lastHeartbeat: ago(1) });
      const first = (await snapshotCtx.request.get('/api/v1/workers/stats').set('Authorization', admin).expect(200)).body.data;
      await createNode(db, { lastHeartbeat: ago(1) });
      const second = (await snapshotCtx.request.get('/api/v1/workers/stats').set('Authorization', admin).expect(200)).body.data;
      expect(first).toMatchObject({ total: 1, online: 1 });
      expect(second).toEqual(first);
      // With 0 (the tests' default) every request is computed after it arrived.
      const fresh = (await ctx.request.get('/api/v1/workers/stats').set('Authorization', admin).expect(200)).body.data;
      expect(fresh).toMatchObject({ total: 2, online: 2 });
      expect(Date.parse(fresh.computedAt)).toBeGreaterThan(Date.parse(first.computedAt));
    } finally {
      await snapshotCtx.close();
    }
  });
});

describe('GET /api/v1/workers/stats, nodes that never sent a heartbeat', () => {
  it('counts them offline, however recently they were registered', async () => {
    await createNode(db);
    await createNode(db, { status: 'ACTIVE', isReady: true });
    await createNode(db, { lastHeartbeat: ago(1) });
    const res = await ctx.request.get('/api/v1/workers/stats').set('Authorization', admin).expect(200);
    expect(res.body.data).toMatchObject({ total: 3, online: 1, offline: 2 });
  });
});

describe('GET /api/v1/workers/stats with sums past 2^53 MB', () => {
  it('sums exactly (the fast float sums would round)', async () => {
    // Only a direct write can store such values: the API allows 2^40 MB per node.
    await createNode(db, { totalMemory: (1n << 60n) + 1n, allocatedMemory: 3n, totalStorage: 10n });
    await createNode(db, { totalMemory: (1n << 60n) + 2n, allocatedMemory: 4n, totalStorage: 20n });
    const res = await ctx.request.get('/api/v1/workers/stats').set('Authorization', admin).expect(200);
    expect(res.body.data.capacity).toMatchObject({ memoryMB: String((1n << 61n) + 3n), storageMB: '30' });
    expect(res.body.data.allocated).toMatchObject({ memoryMB: '7' });
    expect(res.body.data.utilization.memory).toBe(0);
  });
});

describe('GET /api/v1/workers pagination', () => {
  it('counts every matching node on each page, on the last one and on an empty page past the end', async () => {
    await Promise.all(Array.from({ length: 5 }, () => createNode(db, { status: 'ACTIVE' })));
    await createNode(db, { status: 'MAINTENANCE' });
    const page = async (n: number) => (await ctx.request.get('/api/v1/workers').query({ status: 'ACTIVE', limit: '2', page: String(n) }).set('Authorization', admin).expect(200)).body.data;
    const [first, last, past] = [await page(1), await page(3), await page(4)];
    expect(first.workers).toHaveLength(2);
    expect(last.workers).toHaveLength(1);
    expect(past.workers).toEqual([]);
    for (const p of [first, last, past]) expect(p.pagination).toMatchObject({ total: 5, totalPages: 3 });
    expect(past.pagination).toMatchObject({ page: 4, hasNext: false, hasPrev: true });
  });
});

describe('GET /api/v1/workers/online and /offline', () => {
  it('splits nodes by heartbeat age against the grace period and reports secondsSinceHeartbeat', async () => {
    const now = Date.now();
    const fresh = await createNode(db, { lastHeartbeat: ago(0, now) });
    const recent = await createNode(db, { lastHeartbeat: ago(GRACE - 5, now), status: 'ACTIVE' });
    const late = await createNode(db, { lastHeartbeat: ago(GRACE + 5, now), status: 'ACTIVE' });
    const dead = await createNode(db, { lastHeartbeat: ago(600, now) });

    const online = await ctx.request.get('/api/v1/workers/online').set('Authorization', admin).expect(200);
    expect(online.body.data.workers.map((w: { id: string }) => w.id)).toEqual([fresh.node.id, recent.node.id]);
    expect(online.body.data.pagination.total).toBe(2);
    const [f, r] = online.body.data.workers;
    expect(f).toMatchObject({ isOnline: true, secondsSinceHeartbeat: expect.any(Number) });
    expect(f.secondsSinceHeartbeat).toBeLessThan(5);
    expect(r.secondsSinceHeartbeat).toBeGreaterThanOrEqual(GRACE - 5);

    const offline = await ctx.request.get('/api/v1/workers/offline').query({ sortOrder: 'asc' }).set('Authorization', admin).expect(200);
    expect(offline.body.data.workers.map((w: { id: string }) => w.id)).toEqual([dead.node.id, late.node.id]);
    expect(offline.body.data.workers[0]).toMatchObject({ isOnline: false });
    expect(offline.body.data.workers[0].secondsSinceHeartbeat).toBeGreaterThanOrEqual(600);

    const filtered = await ctx.request.get('/api/v1/workers/offline').query({ status: 'ACTIVE' }).set('Authorization', admin).expect(200);
    expect(filtered.body.data.workers.map((w: { id: string }) => w.id)).toEqual([late.node.id]);
  });

  it('lists a node that never sent a heartbeat as offline, sorted as the oldest, with no heartbeat time', async () => {
    const now = Date.now();
    const never = await createNode(db);
    const fresh = await createNode(db, { lastHeartbeat: ago(0, now) });
    const dead = await createNode(db, { lastHeartbeat: ago(600, now) });

    const online = await ctx.request.get('/api/v1/workers/online').set('Authorization', admin).expect(200);
    expect(online.body.data.workers.map((w: { id: string }) => w.id)).toEqual([fresh.node.id]);
    const offline = await ctx.request.get('/api/v1/workers/offline').set('Authorization', admin).expect(200);
    expect(offline.body.data.workers.map((w: { id: string }) => w.id)).toEqual([dead.node.id, never.node.id]);
    expect(offline.body.data.workers[1]).toMatchObject({ isOnline: false, lastHeartbeat: null, secondsSinceHeartbeat: null });
    const oldestFirst = await ctx.request.get('/api/v1/workers/offline').query({ sortOrder: 'asc' }).set('Authorization', admin).expect(200);
    expect(oldestFirst.body.data.workers.map((w: { id: string }) => w.id)).toEqual([never.node.id, dead.node.id]);

    const all = await ctx.request.get('/api/v1/workers').query({ sortBy: 'lastHeartbeat' }).set('Authorization', admin).expect(200);
    expect(all.body.data.workers.map((w: { id: string; isOnline: boolean }) => [w.id, w.isOnline])).toEqual([
      [fresh.node.id, true],
      [dead.node.id, false],
      [never.node.id, false],
    ]);
  });
});

describe('sweepStaleNodes', () => {
  it('takes a node INACTIVE and not ready once the grace period passes without a heartbeat (clock driven)', async () => {
    const { node, auth } = await createNode(db);
    await ctx.request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).expect(200);
    const beat = (await rowOf(node.id)).lastHeartbeat?.getTime() ?? 0;

    expect(await sweepStaleNodes(db, { now: new Date(beat + (GRACE - 1) * 1000), graceSeconds: GRACE })).toBe(0);
    expect(await rowOf(node.id)).toMatchObject({ status: 'ACTIVE', isReady: true });

    const later = new Date(beat + (GRACE + 1) * 1000);
    expect(await sweepStaleNodes(db, { now: later, graceSeconds: GRACE })).toBe(1);
    expect(await rowOf(node.id)).toMatchObject({ status: 'INACTIVE', isReady: false, lastHealthCheck: later, statusReason: `No heartbeat for more than ${GRACE}s` });
    const seen = await ctx.request.get(`/api/v1/workers/${node.id}`).set('Authorization', admin).expect(200);
    expect(seen.body.data.node).toMatchObject({ status: 'INACTIVE', isReady: false });

    // The next heartbeat brings it back.
    await ctx.request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).expect(200);
    expect(await rowOf(node.id)).toMatchObject({ status: 'ACTIVE', isReady: true, statusReason: null });
  });

  it('marks stale ACTIVE and NOT_READY nodes INACTIVE, clears readiness of the others, and leaves fresh nodes alone', async () => {
    const now = new Date();
    const stale = ago(GRACE + 1, now.getTime());
    const fresh = await createNode(db, { status: 'ACTIVE', isReady: true, lastHeartbeat: ago(GRACE - 1, now.getTime()) });
    const active = await createNode(db, { status: 'ACTIVE', isReady: true, lastHeartbeat: stale });
    const notReady = await createNode(db, { status: 'NOT_READY', lastHeartbeat: stale });
    const maintenance = await createNode(db, { status: 'MAINTENANCE', statusReason: 'upgrade', isReady: true, lastHeartbeat: stale });
    const pending = await createNode(db, { status: 'PENDING', lastHeartbeat: stale });

    expect(await sweepStaleNodes(db, { now, graceSeconds: GRACE })).toBe(3);
    expect(await rowOf(fresh.node.id)).toMatchObject({ status: 'ACTIVE', isReady: true, lastHealthCheck: fresh.node.lastHealthCheck });
    expect(await rowOf(active.node.id)).toMatchObject({ status: 'INACTIVE', isReady: false, lastHealthCheck: now });
    expect(await rowOf(notReady.node.id)).toMatchObject({ status: 'INACTIVE', isReady: false, lastHealthCheck: now });
    expect(await rowOf(maintenance.node.id)).toMatchObject({ status: 'MAINTENANCE', statusReason: 'upgrade', isReady: false, lastHealthCheck: now });
    expect(await rowOf(pending.node.id)).toMatchObject({ status: 'PENDING', lastHealthCheck: pending.node.lastHealthCheck });
  });

  it('gives a node that never sent a heartbeat the grace period from its registration', async () => {
    const now = new Date();
    const young = await createNode(db, { status: 'ACTIVE', isReady: true, createdAt: ago(GRACE - 1, now.getTime()) });
    const old = await createNode(db, { status: 'ACTIVE', isReady: true, createdAt: ago(GRACE + 1, now.getTime()) });
    expect(young.node.lastHeartbeat).toBeNull();

    expect(await sweepStaleNodes(db, { now, graceSeconds: GRACE })).toBe(1);
    expect(await rowOf(young.node.id)).toMatchObject({ status: 'ACTIVE', isReady: true });
    expect(await rowOf(old.node.id)).toMatchObject({ status: 'INACTIVE', isReady: false, lastHeartbeat: null, statusReason: `No heartbeat for more than ${GRACE}s` });
  });

  it('is idempotent, so several instances may run it at once', async () => {
    const now = new Date();
    for (let i = 0; i < 5; i++) await createNode(db, { status: 'ACTIVE', isReady: true, lastHeartbeat: ago(GRACE * 2, now.getTime()) });
    const counts = await Promise.all([1, 2, 3].map(() => sweepStaleNodes(db, { now, graceSeconds: GRACE })));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(5);
    expect(await sweepStaleNodes(db, { now, graceSeconds: GRACE })).toBe(0);
    expect(await db.workerNode.count({ where: { status: 'INACTIVE', isReady: false } })).toBe(5);
  });
});

describe('startBackgroundJobs', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sweeps every sweeperIntervalSeconds, and stop() waits for the sweep in flight', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { node } = await createNode(db, { status: 'ACTIVE', isReady: true, lastHeartbeat: ago(GRACE + 60) });
    const jobs = startBackgroundJobs({ db, config: testConfig({ DATABASE_URL: url, HEARTBEAT_GRACE_SECONDS: String(GRACE), SWEEPER_INTERVAL_SECONDS: '15' }), logger: ctx.logger });
    vi.advanceTimersByTime(14_999);
    await jobs.stop();
    expect((await rowOf(node.id)).status).toBe('ACTIVE');

    const again = startBackgroundJobs({ db, config: testConfig({ DATABASE_URL: url, HEARTBEAT_GRACE_SECONDS: String(GRACE), SWEEPER_INTERVAL_SECONDS: '15' }), logger: ctx.logger });
    vi.advanceTimersByTime(15_000);
    await again.stop();
    expect(await rowOf(node.id)).toMatchObject({ status: 'INACTIVE', isReady: false });
  });

  it('does nothing when the interval is 0', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { node } = await createNode(db, { status: 'ACTIVE', isReady: true, lastHeartbeat: ago(GRACE + 60) });
    const jobs = startBackgroundJobs({ db, config: testConfig({ DATABASE_URL: url, SWEEPER_INTERVAL_SECONDS: '0' }), logger: ctx.logger });
    vi.advanceTimersByTime(3_600_000);
    await jobs.stop();
    expect((await rowOf(node.id)).status).toBe('ACTIVE');
  });

  it('logs a failed sweep through the shared error reporter and keeps running', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const logs = captureLogs();
    const config = testConfig({ DATABASE_URL: url, SWEEPER_INTERVAL_SECONDS: '1' });
    const logger = createLogger(config, [logs.transport]);
    let calls = 0;
    const failing = { $executeRaw: () => { calls++; return Promise.reject(new Error('sweep exploded')); } } as unknown as Db;
    const jobs = startBackgroundJobs({ db: failing, config, logger });
    vi.advanceTimersByTime(1000);
    await vi.waitFor(() => expect(logs.text()).toContain('sweep exploded'));
    vi.advanceTimersByTime(1000);
    await jobs.stop();
    expect(calls).toBe(2);
    expect(logs.text()).toContain('worker liveness sweeper');
  });
});

describe('prisma/seed/workers', () => {
  it('creates three nodes with Kubernetes well-known labels, and seeding twice changes nothing', async () => {
    await createNode(db, { name: 'other-node' });
    expect(await seedWorkers(db)).toBe(3);
    const before = await db.workerNode.findMany({ where: { name: { startsWith: 'worker-node-' } }, orderBy: { name: 'asc' } });
    expect(before).toHaveLength(3);
    for (const n of before) {
      expect(Object.keys(n.labels as object)).toEqual(expect.arrayContaining(['topology.kubernetes.io/zone', 'kubernetes.io/arch', 'kubernetes.io/os']));
    }
    expect(await seedWorkers(db)).toBe(0);
    expect(await db.workerNode.findMany({ where: { name: { startsWith: 'worker-node-' } }, orderBy: { name: 'asc' } })).toEqual(before);
    expect(await db.workerNode.count()).toBe(4);
  });

  it('recreates only a missing node and leaves edited ones alone', async () => {
    await seedWorkers(db);
    await db.workerNode.update({ where: { name: 'worker-node-01' }, data: { maxPods: 42 } });
    await db.workerNode.delete({ where: { name: 'worker-node-02' } });
    expect(await seedWorkers(db)).toBe(1);
    expect((await db.workerNode.findUniqueOrThrow({ where: { name: 'worker-node-01' } })).maxPods).toBe(42);
  });

  it('holds only values the API itself would accept', () => {
    for (const n of SEED_WORKERS) {
      const body = { ...n, totalMemory: Number(n.totalMemory), totalStorage: Number(n.totalStorage) };
      expect(createNodeBody.safeParse(body).error?.issues ?? [], n.name).toEqual([]);
    }
  });
});

describe('worker_nodes storage', () => {
  it('keeps heartbeats and resource reports HOT updates: no index on a column they write, and room on each page', async () => {
    const indexes = await db.$queryRaw<{ indexdef: string }[]>`SELECT indexdef FROM pg_indexes WHERE tablename = 'worker_nodes'`;
    for (const column of ['lastHeartbeat', 'updatedAt', 'allocatedCPU', 'allocatedMemory', 'allocatedStorage', 'currentPods']) {
      expect(indexes.filter((i) => i.indexdef.includes(`"${column}"`)), column).toEqual([]);
    }
    const [table] = await db.$queryRaw<{ reloptions: string[] | null }[]>`SELECT reloptions FROM pg_class WHERE relname = 'worker_nodes'`;
    expect(table?.reloptions).toContain('fillfactor=70');
  });

  it('writes a heartbeat that repeats the architecture and OS (columns of the search index) as a HOT update; a new OS is not', async () => {
    await db.$executeRawUnsafe('CREATE EXTENSION IF NOT EXISTS pageinspect');
    const { node, auth } = await createNode(db);
    // Whether the node's current row version is a heap-only tuple (HEAP_ONLY_TUPLE in t_infomask2): written without touching any index.
    const heapOnly = async () => {
      const [row] = await db.$queryRaw<{ hot: boolean }[]>`
        SELECT (p.t_infomask2 & 32768) <> 0 AS hot
        FROM worker_nodes w, heap_page_items(get_raw_page('worker_nodes', ((w.ctid::text::point)[0])::int)) p
        WHERE w.id = ${node.id} AND p.lp = ((w.ctid::text::point)[1])::int`;
      return row?.hot;
    };
    const facts = { architecture: node.architecture, cpuArchitecture: node.cpuArchitecture, operatingSystem: node.operatingSystem };
    // The first one makes the node ACTIVE and ready: indexed columns that change, so not HOT.
    await ctx.request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).send({ isReady: true }).expect(200);
    await ctx.request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).send({ isReady: true, ...facts }).expect(200);
    expect(await heapOnly()).toBe(true);
    await ctx.request.post(`/api/v1/workers/${node.id}/resources`).set('Authorization', auth).send({ allocatedCPU: 1, allocatedMemory: 2048, currentPods: 3 }).expect(200);
    expect(await heapOnly()).toBe(true);
    await ctx.request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).send({ isReady: true, ...facts, operatingSystem: 'Ubuntu 24.04 LTS' }).expect(200);
    expect(await heapOnly()).toBe(false);
  });
});
