import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashAgentToken } from '../../src/modules/workers/workers.agent-auth.js';
import { createAdmin, unique } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';

// Races the issue lists that no other file covers. The others live next to their feature:
//   one refresh token, refreshed in parallel      tests/api/auth-tokens.test.ts ("exactly one of several concurrent refreshes")
//   the last two administrators demoting each other tests/api/users-isolated.test.ts ("survives two administrators who ... each other at once")
//   parallel resource reports on one node          tests/api/workers-agents.test.ts ("applies parallel reports whole")
const ctx = createTestContext();
const { request, db, config } = ctx;
afterAll(() => ctx.close());

const PARALLEL = 12;
let admin: string;
beforeAll(async () => {
  admin = (await createAdmin(db, config)).auth;
});

const statuses = (results: { status: number }[]) => results.map((r) => r.status).sort();

describe('POST /api/v1/auth/register, in parallel for one email', () => {
  // A taken address gets the answer of a new one (see tests/api/auth-registration.test.ts): all 201.
  it('creates exactly one account, whatever the letter case, and only its answer signs in', async () => {
    const email = `${unique('race')}@example.test`;
    const variants = [email, email.toUpperCase(), ` ${email} `];
    const results = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        request.post('/api/v1/auth/register').send({ name: `Racer ${i}`, email: variants[i % variants.length], password: 'Str0ng!Pass', confirmPassword: 'Str0ng!Pass' }),
      ),
    );
    expect(statuses(results)).toEqual(Array<number>(PARALLEL).fill(201));
    const [row, ...more] = await db.user.findMany({ where: { email } });
    expect(more).toHaveLength(0);
    expect(await db.refreshToken.count({ where: { user: { email } } })).toBe(1);
    const signedIn = [];
    for (const r of results) {
      expect(r.body.data.user.email).toBe(email);
      if ((await request.get('/api/v1/auth/me').set('Authorization', `Bearer ${r.body.data.tokens.accessToken}`)).status === 200) signedIn.push(r.body.data.user.id);
    }
    expect(signedIn).toEqual([row?.id]);
  });
});

describe('POST /api/v1/workers, in parallel for one node', () => {
  const registration = (name: string, hostname: string) => ({
    name,
    hostname,
    ipAddress: '10.1.2.3',
    cpuCores: 4,
    cpuArchitecture: 'x86_64',
    totalMemory: '16Gi',
    totalStorage: 100000,
    architecture: 'amd64',
    operatingSystem: 'Ubuntu 24.04 LTS',
  });

  it('registers one name once: one 201, the rest 409 naming the name, one row', async () => {
    const name = unique('race-node');
    const results = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => request.post('/api/v1/workers').set('Authorization', admin).send(registration(name, `${name}-${i}.cluster.test`))));
    expect(statuses(results)).toEqual([201, ...Array<number>(PARALLEL - 1).fill(409)]);
    for (const r of results.filter((x) => x.status === 409)) expect(r.body.errors).toEqual([expect.objectContaining({ field: 'name' })]);
    const rows = await db.workerNode.findMany({ where: { name } });
    expect(rows).toHaveLength(1);
    // The agent token handed out belongs to the row that was kept.
    const winner = results.find((r) => r.status === 201);
    expect(winner?.body.data.id).toBe(rows[0]?.id);
    expect(hashAgentToken(winner?.body.data.agentToken)).toBe(rows[0]?.agentTokenHash);
  });

  it('registers one host name once, in any letter case', async () => {
    const host = `${unique('race-host')}.cluster.test`;
    const results = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) => request.post('/api/v1/workers').set('Authorization', admin).send(registration(unique(`n${i}`), i % 2 ? host.toUpperCase() : host))),
    );
    expect(statuses(results)).toEqual([201, ...Array<number>(PARALLEL - 1).fill(409)]);
    expect(await db.workerNode.count({ where: { hostname: host } })).toBe(1);
  });
});
