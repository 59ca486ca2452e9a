import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashAgentToken } from '../../src/modules/workers/workers.agent-auth.js';
import { createAdmin, createNode, createUser, unique } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';

const ctx = createTestContext();
const { request, db, config } = ctx;
afterAll(() => ctx.close());

let admin: string;
let userAuth: string;
beforeAll(async () => {
  admin = (await createAdmin(db, config)).auth;
  userAuth = (await createUser(db, config)).auth;
});

const registration = (overrides: Record<string, unknown> = {}) => {
  const name = unique('worker');
  return {
    name,
    hostname: `${name}.cluster.local`,
    ipAddress: '192.168.1.100',
    cpuCores: 8,
    cpuArchitecture: 'x86_64',
    totalMemory: 32768,
    totalStorage: 500000,
    architecture: 'amd64',
    operatingSystem: 'Ubuntu 22.04 LTS',
    maxPods: 110,
    labels: { 'node-type': 'worker', zone: 'us-west-1a' },
    taints: [],
    kubeletVersion: 'v1.28.0',
    containerRuntime: 'containerd://1.7.0',
    kernelVersion: '5.15.0-78-generic',
    osImage: 'Ubuntu 22.04.3 LTS',
    ...overrides,
  };
};

const fieldsOf = (body: { errors?: { field: string }[] }) => (body.errors ?? []).map((e) => e.field);

describe('POST /api/v1/workers', () => {
  it('registers the README node with 201, defaults, and an agent token stored only as its hash', async () => {
    const body = registration();
    const res = await request.post('/api/v1/workers').set('Authorization', admin).send(body).expect(201);
    expect(res.body).toMatchObject({ success: true, statusCode: 201 });
    // The node's fields sit at `data` itself, as in the original API, with the token beside them.
    const { agentToken, ...node } = res.body.data;
    expect(res.body.data).not.toHaveProperty('node');
    expect(node).toMatchObject({
      name: body.name,
      hostname: body.hostname,
      totalMemory: '32768',
      totalStorage: '500000',
      allocatedMemory: '0',
      allocatedStorage: '0',
      allocatedCPU: 0,
      status: 'PENDING',
      isReady: false,
      isSchedulable: false,
      maxPods: 110,
      currentPods: 0,
      labels: body.labels,
      taints: [],
      hasAgentToken: true,
    });
    expect(node).not.toHaveProperty('agentTokenHash');
    expect(agentToken).toMatch(/^mpn_[A-Za-z0-9_-]{43}$/);

    const row = await db.workerNode.findUniqueOrThrow({ where: { id: node.id } });
    expect(row.agentTokenHash).toBe(hashAgentToken(agentToken));
    expect(row.agentTokenHash).not.toContain(agentToken);
    expect(row.totalMemory).toBe(32768n);
  });

  it('shows a node registered a moment ago as offline, with no heartbeat time, until its first heartbeat', async () => {
    const res = await request.post('/api/v1/workers').set('Authorization', admin).send(registration()).expect(201);
    const { id, name, agentToken } = res.body.data;
    expect(res.body.data).toMatchObject({ isOnline: false, lastHeartbeat: null, secondsSinceHeartbeat: null });
    expect((await db.workerNode.findUniqueOrThrow({ where: { id } })).lastHeartbeat).toBeNull();
    const detail = await request.get(`/api/v1/workers/${id}`).set('Authorization', admin).expect(200);
    expect(detail.body.data.node).toMatchObject({ isOnline: false, lastHeartbeat: null });
    const listed = await request.get('/api/v1/workers').query({ search: name }).set('Authorization', admin).expect(200);
    expect(listed.body.data.workers).toEqual([expect.objectContaining({ id, isOnline: false })]);

    await request.post(`/api/v1/workers/${id}/heartbeat`).set('Authorization', `Bearer ${agentToken}`).expect(200);
    const after = await request.get(`/api/v1/workers/${id}`).set('Authorization', admin).expect(200);
    expect(after.body.data.node).toMatchObject({ isOnline: true, secondsSinceHeartbeat: expect.any(Number) });
    expect(after.body.data.node.lastHeartbeat).toBe((await db.workerNode.findUniqueOrThrow({ where: { id } })).lastHeartbeat?.toISOString());
  });

  it('accepts Kubernetes quantities for memory and storage, rounding down to whole MB', async () => {
    const res = await request.post('/api/v1/workers').set('Authorization', admin).send(registration({ totalMemory: '32Gi', totalStorage: '500G' })).expect(201);
    expect(res.body.data).toMatchObject({ totalMemory: '32768', totalStorage: '476837' });
    const row = await db.workerNode.findUniqueOrThrow({ where: { id: res.body.data.id } });
    expect(row.totalStorage).toBe(476837n);
  });

  it.each([
    ['totalMemory', '16384'],
    ['totalMemory', '32GB'],
    ['totalMemory', -1],
    ['totalStorage', 0],
    ['cpuCores', 0],
    ['ipAddress', '300.1.1.1'],
    ['ipAddress', 'localhost'],
    ['name', 'Worker_01'],
    ['name', 'stats'],
    ['hostname', 'bad host'],
    ['maxPods', 0],
  ])('refuses %s = %j with 400 naming the field, and stores nothing', async (field, value) => {
    const body = registration({ [field]: value });
    const res = await request.post('/api/v1/workers').set('Authorization', admin).send(body).expect(400);
    expect(res.body.code).toBe('VALIDATION_ERROR');
    expect(fieldsOf(res.body)).toContain(field);
    expect(await db.workerNode.count({ where: { hostname: { startsWith: body.name } } })).toBe(0);
  });

  it('accepts IPv6 addresses and lower-cases the hostname', async () => {
    const body = registration({ ipAddress: '2001:db8::10' });
    const res = await request.post('/api/v1/workers').set('Authorization', admin).send({ ...body, hostname: body.hostname.toUpperCase() }).expect(201);
    expect(res.body.data).toMatchObject({ ipAddress: '2001:db8::10', hostname: body.hostname });
  });

  it('accepts Kubernetes well-known labels and taints with the three effects', async () => {
    const labels = { 'topology.kubernetes.io/zone': 'us-west-1a', 'kubernetes.io/arch': 'amd64', 'node-role.kubernetes.io/worker': '', 'example.com/Tier_2.x': 'A-b_c.9' };
    const taints = [
      { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
      { key: 'example.com/spot', effect: 'PreferNoSchedule' },
      { key: 'dedicated', value: 'gpu', effect: 'NoExecute' },
    ];
    const res = await request.post('/api/v1/workers').set('Authorization', admin).send(registration({ labels, taints })).expect(201);
    expect(res.body.data.labels).toEqual(labels);
    expect(res.body.data.taints).toEqual(taints);
  });

  it.each([
    [{ 'Bad.Prefix/zone': 'a' }],
    [{ '/zone': 'a' }],
    [{ '-zone': 'a' }],
    [{ ['a'.repeat(64)]: 'a' }],
    [{ 'zone a': 'a' }],
    [{ zone: 'us west' }],
    [{ zone: 'a'.repeat(64) }],
    [{ zone: '-a' }],
    [{ zone: 3 }],
  ])('refuses labels %j that break Kubernetes syntax with 400', async (labels) => {
    const res = await request.post('/api/v1/workers').set('Authorization', admin).send(registration({ labels })).expect(400);
    expect(fieldsOf(res.body).some((f) => f.startsWith('labels'))).toBe(true);
  });

  it.each([
    [[{ key: 'gpu', effect: 'NoRun' }]],
    [[{ key: 'bad key', effect: 'NoSchedule' }]],
    [[{ key: 'gpu', effect: 'NoSchedule', extra: 1 }]],
    [[{ key: 'gpu', effect: 'NoSchedule' }, { key: 'gpu', value: 'x', effect: 'NoSchedule' }]],
  ])('refuses taints %j with 400', async (taints) => {
    const res = await request.post('/api/v1/workers').set('Authorization', admin).send(registration({ taints })).expect(400);
    expect(fieldsOf(res.body).some((f) => f.startsWith('taints'))).toBe(true);
  });

  it('refuses unknown keys, status and allocations with 400 naming them', async () => {
    const res = await request.post('/api/v1/workers').set('Authorization', admin).send(registration({ status: 'ACTIVE', allocatedCPU: 2, agentTokenHash: 'x' })).expect(400);
    expect(res.body.message).toMatch(/status/);
    expect(res.body.message).toMatch(/allocatedCPU/);
  });

  it.each(['name', 'hostname'] as const)('answers 409 naming %s when it is already taken', async (field) => {
    const first = registration();
    await request.post('/api/v1/workers').set('Authorization', admin).send(first).expect(201);
    const second = registration({ [field]: first[field] });
    const res = await request.post('/api/v1/workers').set('Authorization', admin).send(second).expect(409);
    expect(res.body.code).toBe('CONFLICT');
    expect(fieldsOf(res.body)).toEqual([field]);
    expect(await db.workerNode.count({ where: { [field]: first[field] } })).toBe(1);
  });

  it('treats host names case-insensitively for uniqueness', async () => {
    const first = registration();
    await request.post('/api/v1/workers').set('Authorization', admin).send(first).expect(201);
    await request.post('/api/v1/workers').set('Authorization', admin).send(registration({ hostname: first.hostname.toUpperCase() })).expect(409);
  });
});

describe('access to the administrator routes', () => {
  const adminRoutes: [string, string][] = [
    ['get', '/api/v1/workers'],
    ['get', '/api/v1/workers/stats'],
    ['get', '/api/v1/workers/online'],
    ['get', '/api/v1/workers/offline'],
    ['post', '/api/v1/workers'],
    ['get', '/api/v1/workers/NODE'],
    ['put', '/api/v1/workers/NODE'],
    ['delete', '/api/v1/workers/NODE'],
    ['patch', '/api/v1/workers/NODE/schedulable'],
    ['patch', '/api/v1/workers/NODE/status'],
    ['post', '/api/v1/workers/NODE/token'],
  ];
  const call = (method: string, path: string) => (request as unknown as Record<string, (p: string) => ReturnType<typeof request.get>>)[method]!(path);

  it.each(adminRoutes)('%s %s answers 401 without a token', async (method, path) => {
    const res = await call(method, path).expect(401);
    expect(res.body.success).toBe(false);
  });

  it.each(adminRoutes)('%s %s answers 403 with a message to a USER token', async (method, path) => {
    const { node } = await createNode(db);
    const res = await call(method, path.replace('NODE', node.id)).set('Authorization', userAuth).send({}).expect(403);
    expect(res.body.message).toEqual(expect.any(String));
  });

  it.each(adminRoutes)('%s %s refuses a node agent token with 401 and changes nothing', async (method, path) => {
    const { node, auth } = await createNode(db);
    await call(method, path.replace('NODE', node.id)).set('Authorization', auth).send({ status: 'MAINTENANCE' }).expect(401);
    const row = await db.workerNode.findUniqueOrThrow({ where: { id: node.id } });
    expect(row.status).toBe('PENDING');
    expect(row.agentTokenHash).toBe(node.agentTokenHash);
  });
});

describe('GET /api/v1/workers', () => {
  it('returns the fields the dashboard reads, with memory as strings, and the pagination it reads', async () => {
    const { node } = await createNode(db, { operatingSystem: unique('os'), allocatedMemory: 2048n, labels: { zone: 'a' } });
    const res = await request.get('/api/v1/workers').query({ search: node.operatingSystem }).set('Authorization', admin).expect(200);
    expect(res.body.data.pagination).toMatchObject({ page: 1, limit: 10, total: 1, totalPages: 1, hasNext: false, hasPrev: false, currentPage: 1, totalCount: 1 });
    const [worker] = res.body.data.workers;
    expect(worker).toMatchObject({
      id: node.id,
      name: node.name,
      cpuArchitecture: 'x86_64',
      ipAddress: '10.0.0.10',
      status: 'PENDING',
      cpuCores: 8,
      allocatedCPU: 0,
      totalMemory: '32768',
      allocatedMemory: '2048',
      totalStorage: '500000',
      currentPods: 0,
      maxPods: 110,
      labels: { zone: 'a' },
      isReady: false,
    });
    expect(typeof worker.totalMemory).toBe('string');
    expect(typeof worker.allocatedMemory).toBe('string');
  });

  it('filters by status, isSchedulable and isReady (coerced from the query string)', async () => {
    const os = unique('os');
    const match = await createNode(db, { operatingSystem: os, status: 'ACTIVE', isSchedulable: true, isReady: true });
    await createNode(db, { operatingSystem: os, status: 'ACTIVE', isSchedulable: false, isReady: true });
    await createNode(db, { operatingSystem: os, status: 'MAINTENANCE', isSchedulable: true, isReady: true });
    await createNode(db, { operatingSystem: os, status: 'ACTIVE', isSchedulable: true, isReady: false });
    const res = await request.get('/api/v1/workers').query({ search: os, status: 'ACTIVE', isSchedulable: 'true', isReady: '1' }).set('Authorization', admin).expect(200);
    expect(res.body.data.workers.map((w: { id: string }) => w.id)).toEqual([match.node.id]);
    const falsy = await request.get('/api/v1/workers').query({ search: os, isSchedulable: 'false' }).set('Authorization', admin).expect(200);
    expect(falsy.body.data.pagination.total).toBe(1);
  });

  it('searches name, hostname, IP, operating system and architecture case-insensitively', async () => {
    const tag = unique('srch').toLowerCase();
    const byName = await createNode(db, { name: `${tag}-a` });
    const byHost = await createNode(db, { hostname: `HOST-${tag}.example` });
    const byOs = await createNode(db, { operatingSystem: `Debian ${tag.toUpperCase()}` });
    const byArch = await createNode(db, { architecture: `arm64-${tag}` });
    const res = await request.get('/api/v1/workers').query({ search: tag.toUpperCase(), limit: 100 }).set('Authorization', admin).expect(200);
    expect(res.body.data.workers.map((w: { id: string }) => w.id).sort()).toEqual([byName, byHost, byOs, byArch].map((n) => n.node.id).sort());

    const ip = `10.${Math.floor(Math.random() * 200)}.77.${Math.floor(Math.random() * 200)}`;
    const byIp = await createNode(db, { ipAddress: ip });
    const ipRes = await request.get('/api/v1/workers').query({ search: ip }).set('Authorization', admin).expect(200);
    expect(ipRes.body.data.workers.map((w: { id: string }) => w.id)).toContain(byIp.node.id);
  });

  it('matches a search within one column, never across two (the index reads them joined by newlines)', async () => {
    const { node } = await createNode(db);
    const across = `${node.name.slice(-6)}\n${node.hostname.slice(0, 6)}`;
    const res = await request.get('/api/v1/workers').query({ search: across }).set('Authorization', admin).expect(200);
    expect(res.body.data.pagination.total).toBe(0);
    const within = await request.get('/api/v1/workers').query({ search: node.name.slice(-6) }).set('Authorization', admin).expect(200);
    expect(within.body.data.workers.map((w: { id: string }) => w.id)).toContain(node.id);
  });

  it('treats % and _ in the search as literal characters', async () => {
    const res = await request.get('/api/v1/workers').query({ search: '%_%' }).set('Authorization', admin).expect(200);
    expect(res.body.data.pagination.total).toBe(0);
  });

  it('sorts numbers as numbers and pages without overlap', async () => {
    const os = unique('os');
    for (const cores of [2, 16, 100, 8]) await createNode(db, { operatingSystem: os, cpuCores: cores, totalMemory: BigInt(cores * 1000) });
    const sorted = async (sortBy: string, sortOrder: string, page = 1, limit = 10) =>
      (await request.get('/api/v1/workers').query({ search: os, sortBy, sortOrder, page, limit }).set('Authorization', admin).expect(200)).body.data;
    expect((await sorted('cpuCores', 'asc')).workers.map((w: { cpuCores: number }) => w.cpuCores)).toEqual([2, 8, 16, 100]);
    expect((await sorted('totalMemory', 'desc')).workers.map((w: { totalMemory: string }) => w.totalMemory)).toEqual(['100000', '16000', '8000', '2000']);
    const page1 = await sorted('cpuCores', 'desc', 1, 3);
    const page2 = await sorted('cpuCores', 'desc', 2, 3);
    expect(page1.pagination).toMatchObject({ total: 4, totalPages: 2, hasNext: true });
    expect([...page1.workers, ...page2.workers].map((w: { cpuCores: number }) => w.cpuCores)).toEqual([100, 16, 8, 2]);
  });

  it('caps limit at 100 and refuses unknown sort fields and filters', async () => {
    const res = await request.get('/api/v1/workers').query({ limit: 1000 }).set('Authorization', admin).expect(200);
    expect(res.body.data.pagination.limit).toBe(100);
    await request.get('/api/v1/workers').query({ sortBy: 'agentTokenHash' }).set('Authorization', admin).expect(400);
    await request.get('/api/v1/workers').query({ status: 'BROKEN' }).set('Authorization', admin).expect(400);
    await request.get('/api/v1/workers').query({ isReady: 'maybe' }).set('Authorization', admin).expect(400);
  });
});

describe('GET /api/v1/workers/:nodeId', () => {
  it('finds a node by id and by name', async () => {
    const { node } = await createNode(db, { lastHeartbeat: new Date() });
    const byId = await request.get(`/api/v1/workers/${node.id}`).set('Authorization', admin).expect(200);
    const byName = await request.get(`/api/v1/workers/${node.name}`).set('Authorization', admin).expect(200);
    expect(byId.body.data.node).toEqual({ ...byName.body.data.node, secondsSinceHeartbeat: expect.any(Number) });
    expect(byId.body.data.node).toMatchObject({ id: node.id, name: node.name, totalStorage: '500000', isOnline: true, hasAgentToken: true });
  });

  it('answers 404 for an unknown node', async () => {
    const res = await request.get('/api/v1/workers/no-such-node').set('Authorization', admin).expect(404);
    expect(res.body.code).toBe('NOT_FOUND');
  });
});

describe('PUT /api/v1/workers/:nodeId', () => {
  it('updates the README fields and keeps the rest', async () => {
    const { node } = await createNode(db);
    const labels = { 'node-type': 'worker', zone: 'us-west-1a', updated: 'true' };
    const res = await request.put(`/api/v1/workers/${node.name}`).set('Authorization', admin).send({ totalMemory: 65536, maxPods: 150, labels }).expect(200);
    expect(res.body.data.node).toMatchObject({ totalMemory: '65536', maxPods: 150, labels, name: node.name, totalStorage: '500000' });
    const row = await db.workerNode.findUniqueOrThrow({ where: { id: node.id } });
    expect(row).toMatchObject({ totalMemory: 65536n, maxPods: 150, labels });
    expect(row.updatedAt.getTime()).toBeGreaterThan(node.updatedAt.getTime());
  });

  it('clears node info with null and refuses an empty body', async () => {
    const { node } = await createNode(db, { kubeletVersion: 'v1.28.0' });
    await request.put(`/api/v1/workers/${node.id}`).set('Authorization', admin).send({ kubeletVersion: null }).expect(200);
    expect((await db.workerNode.findUniqueOrThrow({ where: { id: node.id } })).kubeletVersion).toBeNull();
    await request.put(`/api/v1/workers/${node.id}`).set('Authorization', admin).send({}).expect(400);
  });

  it('refuses to shrink capacity below what is allocated, and changes nothing', async () => {
    const { node } = await createNode(db, { allocatedMemory: 20000n, currentPods: 50 });
    const res = await request.put(`/api/v1/workers/${node.id}`).set('Authorization', admin).send({ totalMemory: '16Gi', operatingSystem: 'Changed' }).expect(400);
    expect(fieldsOf(res.body)).toEqual(['totalMemory']);
    const pods = await request.put(`/api/v1/workers/${node.id}`).set('Authorization', admin).send({ maxPods: 49 }).expect(400);
    expect(fieldsOf(pods.body)).toEqual(['maxPods']);
    const row = await db.workerNode.findUniqueOrThrow({ where: { id: node.id } });
    expect(row).toMatchObject({ totalMemory: 32768n, maxPods: 110, operatingSystem: node.operatingSystem });
  });

  it('answers 409 naming hostname when it would duplicate another node', async () => {
    const a = await createNode(db);
    const b = await createNode(db);
    const res = await request.put(`/api/v1/workers/${b.node.id}`).set('Authorization', admin).send({ hostname: a.node.hostname }).expect(409);
    expect(fieldsOf(res.body)).toEqual(['hostname']);
  });

  it('answers 404 for an unknown node', async () => {
    await request.put('/api/v1/workers/no-such-node').set('Authorization', admin).send({ maxPods: 10 }).expect(404);
  });
});

describe('DELETE /api/v1/workers/:nodeId', () => {
  it('deletes the node and returns it; its agent token stops working', async () => {
    const { node, auth } = await createNode(db);
    const res = await request.delete(`/api/v1/workers/${node.name}`).set('Authorization', admin).expect(200);
    expect(res.body.data.node.id).toBe(node.id);
    expect(await db.workerNode.count({ where: { id: node.id } })).toBe(0);
    await request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', auth).expect(401);
    await request.delete(`/api/v1/workers/${node.id}`).set('Authorization', admin).expect(404);
  });
});

describe('PATCH /api/v1/workers/:nodeId/schedulable', () => {
  it('toggles without a body and sets with { isSchedulable }', async () => {
    const { node } = await createNode(db);
    const on = await request.patch(`/api/v1/workers/${node.id}/schedulable`).set('Authorization', admin).expect(200);
    expect(on.body.data.node.isSchedulable).toBe(true);
    const off = await request.patch(`/api/v1/workers/${node.id}/schedulable`).set('Authorization', admin).send({}).expect(200);
    expect(off.body.data.node.isSchedulable).toBe(false);
    for (let i = 0; i < 2; i++) await request.patch(`/api/v1/workers/${node.id}/schedulable`).set('Authorization', admin).send({ isSchedulable: true }).expect(200);
    expect((await db.workerNode.findUniqueOrThrow({ where: { id: node.id } })).isSchedulable).toBe(true);
  });

  it('toggles atomically: two concurrent toggles always cancel out', async () => {
    const { node } = await createNode(db);
    await Promise.all([0, 1].map(() => request.patch(`/api/v1/workers/${node.id}/schedulable`).set('Authorization', admin).expect(200)));
    expect((await db.workerNode.findUniqueOrThrow({ where: { id: node.id } })).isSchedulable).toBe(false);
  });

  it('refuses a non-boolean and answers 404 for an unknown node', async () => {
    const { node } = await createNode(db);
    await request.patch(`/api/v1/workers/${node.id}/schedulable`).set('Authorization', admin).send({ isSchedulable: 'yes' }).expect(400);
    await request.patch('/api/v1/workers/no-such-node/schedulable').set('Authorization', admin).expect(404);
  });
});

describe('PATCH /api/v1/workers/:nodeId/status', () => {
  it('sets MAINTENANCE with its reason and cordons the node, leaving observed health alone', async () => {
    const { node } = await createNode(db, { status: 'ACTIVE', isReady: true, isSchedulable: true });
    const res = await request.patch(`/api/v1/workers/${node.id}/status`).set('Authorization', admin).send({ status: 'MAINTENANCE', reason: 'kernel upgrade' }).expect(200);
    expect(res.body.data.node).toMatchObject({ status: 'MAINTENANCE', statusReason: 'kernel upgrade', isSchedulable: false, isReady: true });
    const row = await db.workerNode.findUniqueOrThrow({ where: { id: node.id } });
    expect(row).toMatchObject({ status: 'MAINTENANCE', statusReason: 'kernel upgrade', isSchedulable: false, isReady: true });
  });

  it('leaving MAINTENANCE clears the reason but does not uncordon', async () => {
    const { node } = await createNode(db, { status: 'MAINTENANCE', statusReason: 'disk swap', isSchedulable: false });
    const res = await request.patch(`/api/v1/workers/${node.id}/status`).set('Authorization', admin).send({ status: 'ACTIVE' }).expect(200);
    expect(res.body.data.node).toMatchObject({ status: 'ACTIVE', statusReason: null, isSchedulable: false });
  });

  it('refuses an unknown status or extra keys', async () => {
    const { node } = await createNode(db);
    await request.patch(`/api/v1/workers/${node.id}/status`).set('Authorization', admin).send({ status: 'RUNNING' }).expect(400);
    await request.patch(`/api/v1/workers/${node.id}/status`).set('Authorization', admin).send({ status: 'ACTIVE', isReady: true }).expect(400);
    expect((await db.workerNode.findUniqueOrThrow({ where: { id: node.id } })).status).toBe('PENDING');
  });
});

describe('POST /api/v1/workers/:nodeId/token', () => {
  it('issues a new agent token; the old one stops working at once', async () => {
    const { node, auth: oldAuth } = await createNode(db);
    await request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', oldAuth).expect(200);
    const res = await request.post(`/api/v1/workers/${node.id}/token`).set('Authorization', admin).expect(200);
    const { agentToken } = res.body.data;
    expect(agentToken).toMatch(/^mpn_/);
    expect(res.body.data).toMatchObject({ id: node.id, name: node.name, hasAgentToken: true });
    expect(res.body.data).not.toHaveProperty('node');
    expect((await db.workerNode.findUniqueOrThrow({ where: { id: node.id } })).agentTokenHash).toBe(hashAgentToken(agentToken));
    await request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', oldAuth).expect(401);
    await request.post(`/api/v1/workers/${node.id}/heartbeat`).set('Authorization', `Bearer ${agentToken}`).expect(200);
  });

  it('gives a seeded node without a token its first one', async () => {
    const { node } = await createNode(db);
    await db.workerNode.update({ where: { id: node.id }, data: { agentTokenHash: null } });
    expect((await request.get(`/api/v1/workers/${node.id}`).set('Authorization', admin)).body.data.node.hasAgentToken).toBe(false);
    const res = await request.post(`/api/v1/workers/${node.name}/token`).set('Authorization', admin).expect(200);
    expect(res.body.data.hasAgentToken).toBe(true);
  });
});
