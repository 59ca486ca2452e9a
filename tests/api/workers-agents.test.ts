import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAccessToken } from '../../src/lib/jwt.js';
import { createAdmin, createNode, createUser } from '../factories/index.js';
import { createTestContext, TEST_JWT_SECRET } from '../helpers/app.js';

const ctx = createTestContext();
const { request, db, config } = ctx;
afterAll(() => ctx.close());

let admin: string;
let userAuth: string;
beforeAll(async () => {
  admin = (await createAdmin(db, config)).auth;
  userAuth = (await createUser(db, config)).auth;
});

const past = (seconds: number) => new Date(Date.now() - seconds * 1000);
const rowOf = (id: string) => db.workerNode.findUniqueOrThrow({ where: { id } });
const fieldsOf = (body: { errors?: { field: string }[] }) => (body.errors ?? []).map((e) => e.field);

describe('POST /api/v1/workers/:nodeId/heartbeat', () => {
  it("records a heartbeat with the node's own agent token: a PENDING node becomes ACTIVE and ready", async () => {
    const { node, auth } = await createNode(db, { lastHeartbeat: past(600) });
    const before = Date.now();
    const res = await request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).expect(200);
    expect(res.body.data).toEqual({ id: node.id, status: 'ACTIVE', isReady: true, lastHeartbeat: expect.any(String), heartbeatIntervalSeconds: 10 });
    const row = await rowOf(node.id);
    expect(row).toMatchObject({ status: 'ACTIVE', isReady: true, statusReason: null });
    // Stored in UTC like every Prisma timestamp, whatever the database session's time zone.
    expect(Math.abs(Number(row.lastHeartbeat) - before)).toBeLessThan(5000);
    expect(res.body.data.lastHeartbeat).toBe(row.lastHeartbeat?.toISOString());
  });

  it('accepts the node name in the path and the PATCH method', async () => {
    const { node, auth } = await createNode(db);
    await request.patch(`/api/v1/workers/${node.name}/heartbeat`).set('Authorization', auth).send({}).expect(200);
    expect((await rowOf(node.id)).status).toBe('ACTIVE');
  });

  it.each(['PENDING', 'NOT_READY', 'INACTIVE', 'ACTIVE'] as const)('a ready heartbeat makes a %s node ACTIVE', async (status) => {
    const { node, auth } = await createNode(db, { status, statusReason: status === 'ACTIVE' ? null : 'was down' });
    const res = await request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).send({ isReady: true }).expect(200);
    expect(res.body.data).toMatchObject({ status: 'ACTIVE', isReady: true });
    expect(await rowOf(node.id)).toMatchObject({ status: 'ACTIVE', isReady: true, statusReason: null });
  });

  it('a heartbeat reporting not ready sets NOT_READY with the reason', async () => {
    const { node, auth } = await createNode(db, { status: 'ACTIVE', isReady: true });
    const res = await request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).send({ isReady: false, reason: 'container runtime is down' }).expect(200);
    expect(res.body.data).toMatchObject({ status: 'NOT_READY', isReady: false });
    expect(await rowOf(node.id)).toMatchObject({ status: 'NOT_READY', isReady: false, statusReason: 'container runtime is down' });
  });

  it('keeps the reason an administrator gave while the status does not change', async () => {
    const { node, auth } = await createNode(db, { status: 'ACTIVE', isReady: true, statusReason: 'back from repair' });
    await request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).expect(200);
    expect((await rowOf(node.id)).statusReason).toBe('back from repair');
  });

  it.each([true, false])('never changes MAINTENANCE (isReady %s), but records liveness and observed readiness', async (isReady) => {
    const { node, auth } = await createNode(db, { status: 'MAINTENANCE', statusReason: 'kernel upgrade', isReady: !isReady, lastHeartbeat: past(600) });
    const res = await request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).send({ isReady }).expect(200);
    expect(res.body.data).toMatchObject({ status: 'MAINTENANCE', isReady });
    const row = await rowOf(node.id);
    expect(row).toMatchObject({ status: 'MAINTENANCE', statusReason: 'kernel upgrade', isReady });
    expect(row.lastHeartbeat?.getTime()).toBeGreaterThan(Date.now() - 5000);
  });

  it('records usage, capacity and node info sent with the heartbeat', async () => {
    const { node, auth } = await createNode(db);
    const info = { kubeletVersion: 'v1.29.1', containerRuntime: 'containerd://1.7.13', kernelVersion: '6.1.0-18-amd64', osImage: 'Debian GNU/Linux 12 (bookworm)' };
    await request
      .post(`/api/v1/workers/${node.id}/heartbeat`)
      .set('Authorization', auth)
      .send({ ...info, cpuCores: 16, totalMemory: '64Gi', totalStorage: '1Ti', architecture: 'arm64', cpuArchitecture: 'aarch64', operatingSystem: 'linux', allocatedMemory: '40Gi', currentPods: 12 })
      .expect(200);
    expect(await rowOf(node.id)).toMatchObject({
      ...info,
      cpuCores: 16,
      totalMemory: 65536n,
      totalStorage: 1048576n,
      architecture: 'arm64',
      cpuArchitecture: 'aarch64',
      operatingSystem: 'linux',
      allocatedMemory: 40960n,
      currentPods: 12,
    });
  });

  it.each([{ status: 'ACTIVE' }, { isReady: 'yes' }, { allocatedMemory: -5 }, { kernelVersion: '' }, { lastHeartbeat: '2020-01-01T00:00:00Z' }])(
    'refuses the body %j with 400 and records nothing',
    async (body) => {
      const { node, auth } = await createNode(db, { lastHeartbeat: past(600) });
      await request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).send(body).expect(400);
      const row = await rowOf(node.id);
      expect(row.status).toBe('PENDING');
      expect(row.lastHeartbeat).toEqual(node.lastHeartbeat);
    },
  );

  it('refuses usage above capacity (even with a new capacity in the same body) and records nothing', async () => {
    const { node, auth } = await createNode(db, { lastHeartbeat: past(600), allocatedMemory: 30000n });
    const res = await request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).send({ totalMemory: '16Gi', kernelVersion: '6.1' }).expect(400);
    expect(fieldsOf(res.body)).toEqual(['totalMemory']);
    const both = await request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).send({ totalMemory: '16Gi', allocatedMemory: '20Gi' }).expect(400);
    expect(fieldsOf(both.body)).toEqual(['allocatedMemory']);
    expect(await rowOf(node.id)).toMatchObject({ status: 'PENDING', totalMemory: 32768n, allocatedMemory: 30000n, kernelVersion: null, lastHeartbeat: node.lastHeartbeat });
  });

  it("refuses another node's agent token with 403 and changes neither node", async () => {
    const target = await createNode(db, { lastHeartbeat: past(600) });
    const other = await createNode(db, { lastHeartbeat: past(600) });
    const res = await request.post(`/api/v1/workers/${target.node.id}/heartbeat`).set('Authorization', other.auth).expect(403);
    expect(res.body.code).toBe('FORBIDDEN');
    for (const n of [target.node, other.node]) expect(await rowOf(n.id)).toMatchObject({ status: 'PENDING', lastHeartbeat: n.lastHeartbeat });
    // Naming a node that does not exist with a valid token is the same refusal: the token is not for it.
    await request.post('/api/v1/workers/no-such-node/heartbeat').set('Authorization', other.auth).expect(403);
  });

  it.each([
    ['no token', undefined],
    ['an unknown agent token', `Bearer mpn_${'A'.repeat(43)}`],
    ['a malformed agent token', 'Bearer mpn_short'],
    ['a garbage token', 'Bearer not-a-token'],
    ['a JWT signed with another secret', `Bearer ${signAccessToken({ ...config.jwt, secret: TEST_JWT_SECRET.replace('test', 'evil') }, 'x').accessToken}`],
    ['a Basic header', 'Basic YWRtaW46cGFzcw=='],
  ])('refuses %s with 401', async (_label, header) => {
    const { node } = await createNode(db, { lastHeartbeat: past(600) });
    const req = request.post(`/api/v1/workers/${node.id}/heartbeat`);
    const res = await (header ? req.set('Authorization', header) : req).expect(401);
    expect(res.body.success).toBe(false);
    expect((await rowOf(node.id)).lastHeartbeat).toEqual(node.lastHeartbeat);
  });

  it('refuses a USER access token with 403', async () => {
    const { node } = await createNode(db);
    const res = await request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', userAuth).expect(403);
    expect(res.body.message).toMatch(/agent token or an administrator/);
    expect((await rowOf(node.id)).status).toBe('PENDING');
  });

  it('accepts an administrator token, and answers 404 for an unknown node', async () => {
    const { node } = await createNode(db);
    const res = await request.post(`/api/v1/workers/${node.name}/heartbeat`).set('Authorization', admin).send({ isReady: false }).expect(200);
    expect(res.body.data).toMatchObject({ id: node.id, status: 'NOT_READY', isReady: false });
    await request.post('/api/v1/workers/no-such-node/heartbeat').set('Authorization', admin).expect(404);
  });
});

describe('POST /api/v1/workers/:nodeId/resources', () => {
  it('records the README report and answers with allocation and capacity', async () => {
    const { node, auth } = await createNode(db);
    const res = await request
      .post(`/api/v1/workers/${node.id}/resources`)
      .set('Authorization', auth)
      .send({ allocatedCPU: 4.5, allocatedMemory: 16384, allocatedStorage: 100000, currentPods: 25 })
      .expect(200);
    expect(res.body.data).toEqual({
      id: node.id,
      cpuCores: 8,
      allocatedCPU: 4.5,
      totalMemory: '32768',
      allocatedMemory: '16384',
      totalStorage: '500000',
      allocatedStorage: '100000',
      maxPods: 110,
      currentPods: 25,
    });
    expect(await rowOf(node.id)).toMatchObject({ allocatedCPU: 4.5, allocatedMemory: 16384n, allocatedStorage: 100000n, currentPods: 25, status: 'PENDING', lastHeartbeat: node.lastHeartbeat });
  });

  it('accepts Kubernetes quantities and keeps what a partial report leaves out', async () => {
    const { node, auth } = await createNode(db, { currentPods: 7 });
    await request.patch(`/api/v1/workers/${node.id}/resources`).set('Authorization', auth).send({ allocatedCPU: '4500m', allocatedMemory: '16Gi', allocatedStorage: '100G' }).expect(200);
    expect(await rowOf(node.id)).toMatchObject({ allocatedCPU: 4.5, allocatedMemory: 16384n, allocatedStorage: 95367n, currentPods: 7 });
  });

  it('accepts usage exactly at capacity', async () => {
    const { node, auth } = await createNode(db);
    await request.post(`/api/v1/workers/${node.id}/resources`).set('Authorization', auth).send({ allocatedCPU: 8, allocatedMemory: '32Gi', allocatedStorage: 500000, currentPods: 110 }).expect(200);
  });

  it.each([
    ['allocatedCPU', 8.5],
    ['allocatedMemory', 32769],
    ['allocatedMemory', '33Gi'],
    ['allocatedStorage', '1Ti'],
    ['currentPods', 111],
  ])('refuses %s = %j above capacity with 400 naming it, and changes nothing', async (field, value) => {
    const { node, auth } = await createNode(db, { allocatedCPU: 1, allocatedMemory: 1000n, allocatedStorage: 1000n, currentPods: 1 });
    const res = await request.post(`/api/v1/workers/${node.id}/resources`).set('Authorization', auth).send({ allocatedCPU: 2, currentPods: 2, [field]: value }).expect(400);
    expect(fieldsOf(res.body)).toEqual([field]);
    expect(await rowOf(node.id)).toMatchObject({ allocatedCPU: 1, allocatedMemory: 1000n, allocatedStorage: 1000n, currentPods: 1, updatedAt: node.updatedAt });
  });

  it.each([
    ['allocatedCPU', -0.5],
    ['allocatedMemory', -1],
    ['allocatedStorage', '-5Gi'],
    ['currentPods', -1],
    ['currentPods', 1.5],
    ['allocatedCPU', 'lots'],
  ])('refuses %s = %j with 400 naming it', async (field, value) => {
    const { node, auth } = await createNode(db);
    const res = await request.post(`/api/v1/workers/${node.id}/resources`).set('Authorization', auth).send({ [field]: value }).expect(400);
    expect(fieldsOf(res.body)).toEqual([field]);
    expect((await rowOf(node.id)).updatedAt).toEqual(node.updatedAt);
  });

  it('refuses an empty report and unknown keys', async () => {
    const { node, auth } = await createNode(db);
    await request.post(`/api/v1/workers/${node.id}/resources`).set('Authorization', auth).send({}).expect(400);
    const res = await request.post(`/api/v1/workers/${node.id}/resources`).set('Authorization', auth).send({ currentPods: 1, totalMemory: 99999999 }).expect(400);
    expect(res.body.message).toMatch(/totalMemory/);
  });

  it('applies parallel reports whole: the result is exactly one of them, never a mix', async () => {
    const { node, auth } = await createNode(db);
    const reports = Array.from({ length: 12 }, (_, i) => ({ allocatedCPU: i % 8, allocatedMemory: i * 1000, allocatedStorage: i * 2000, currentPods: i }));
    await Promise.all(reports.map((r) => request.post(`/api/v1/workers/${node.id}/resources`).set('Authorization', auth).send(r).expect(200)));
    const row = await rowOf(node.id);
    const i = row.currentPods;
    expect(row).toMatchObject({ allocatedCPU: i % 8, allocatedMemory: BigInt(i * 1000), allocatedStorage: BigInt(i * 2000) });
  });

  it('never lets a report pass a concurrent capacity cut', async () => {
    const { node, auth } = await createNode(db, { totalMemory: 20000n });
    const [report, cut] = await Promise.all([
      request.post(`/api/v1/workers/${node.id}/resources`).set('Authorization', auth).send({ allocatedMemory: 15000 }),
      request.put(`/api/v1/workers/${node.id}`).set('Authorization', admin).send({ totalMemory: 10000 }),
    ]);
    expect([report.status, cut.status].sort()).toEqual([200, 400]);
    const row = await rowOf(node.id);
    expect(row.allocatedMemory <= row.totalMemory).toBe(true);
  });

  it("refuses another node's token with 403, a USER token with 403 and no token with 401; accepts an administrator", async () => {
    const { node } = await createNode(db);
    const other = await createNode(db);
    await request.post(`/api/v1/workers/${node.id}/resources`).set('Authorization', other.auth).send({ currentPods: 3 }).expect(403);
    await request.post(`/api/v1/workers/${node.id}/resources`).set('Authorization', userAuth).send({ currentPods: 3 }).expect(403);
    await request.post(`/api/v1/workers/${node.id}/resources`).send({ currentPods: 3 }).expect(401);
    expect((await rowOf(node.id)).currentPods).toBe(0);
    await request.post(`/api/v1/workers/${node.id}/resources`).set('Authorization', admin).send({ currentPods: 3 }).expect(200);
    expect((await rowOf(node.id)).currentPods).toBe(3);
  });
});

describe('the global rate limit', () => {
  const limited = createTestContext({ env: { RATE_LIMIT_MAX: '3' } });
  afterAll(() => limited.close());

  it('does not apply to agent reports, which arrive from many nodes behind one address', async () => {
    const { node, auth } = await createNode(limited.db);
    for (let i = 0; i < 6; i++) await limited.request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).expect(200);
    for (let i = 0; i < 6; i++) await limited.request.post(`/api/v1/workers/${node.id}/resources`).set('Authorization', auth).send({ currentPods: i }).expect(200);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await limited.request.get(`/api/v1/workers/${node.id}`).set('Authorization', admin)).status);
    expect(statuses).toContain(429);
  });
});
