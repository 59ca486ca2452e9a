import type { BenchData } from './database.js';
import type { LoadSpec } from './load.js';
import type { BenchOptions } from './options.js';

export interface Scenario {
  name: string;
  description: string;
  spec: LoadSpec;
}

export interface Targets {
  api: string;
  ceiling: string;
  /** The same bare app served by the API's createHttpServer. */
  ceilingPrototypes: string;
  adminToken: string;
  userToken: string;
}

const API = '/api/v1';
const FLEET_CONNECTIONS = 10;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Throughput scenarios, in the order they run: the ceiling first, then the API's hot paths. */
export function throughputScenarios(data: BenchData, t: Targets, o: BenchOptions): Scenario[] {
  const base = { connections: o.connections, duration: o.duration, warmup: o.warmup };
  const api = { ...base, base: t.api };
  const admin = [bearer(t.adminToken)];
  const agentPaths = (op: string) => data.agents.map((a) => `${API}/workers/${a.id}/${op}`);
  const agentHeaders = data.agents.map((a) => bearer(a.token));
  return [
    { name: 'ceiling', description: 'bare Express 5, small JSON body', spec: { ...base, base: t.ceiling, method: 'GET', paths: ['/ceiling'], headers: [{}] } },
    {
      // Not a target: how far the ceiling moves when served as the API is (see createHttpServer).
      name: 'ceiling-prototypes',
      description: "the same bare app, served by the API's createHttpServer",
      spec: { ...base, base: t.ceilingPrototypes, method: 'GET', paths: ['/ceiling'], headers: [{}] },
    },
    { name: 'health', description: 'GET /health (database ping)', spec: { ...api, method: 'GET', paths: ['/health'], headers: [{}] } },
    {
      name: 'heartbeat',
      description: `POST /workers/:id/heartbeat, ${data.agents.length} agents`,
      spec: { ...api, method: 'POST', paths: agentPaths('heartbeat'), headers: agentHeaders, bodies: ['{}'] },
    },
    {
      name: 'resources',
      description: `POST /workers/:id/resources, ${data.agents.length} agents`,
      spec: {
        ...api,
        method: 'POST',
        paths: agentPaths('resources'),
        headers: agentHeaders,
        // Within every seeded node's capacity (at least 4 cores, 16 GiB, 110 pods).
        bodies: [0, 1, 2, 3, 4, 5, 6].map((n) => JSON.stringify({ allocatedCPU: 0.5 + n * 0.25, allocatedMemory: 1024 + n * 512, currentPods: 10 + n })),
      },
    },
    { name: 'workers-list', description: 'GET /workers?limit=10&status=ACTIVE', spec: { ...api, method: 'GET', paths: [`${API}/workers?limit=10&status=ACTIVE`], headers: admin } },
    // The dashboard's fleet pages: a handful of operators at once (issue 15 measures them at 10 connections).
    {
      name: 'workers-search',
      description: `GET /workers?search=<node name or IP>, ${data.nodeSearchTerms.length} different terms over ${o.nodes} nodes, ${FLEET_CONNECTIONS} connections`,
      spec: { ...api, connections: FLEET_CONNECTIONS, method: 'GET', paths: data.nodeSearchTerms.map((s) => `${API}/workers?search=${encodeURIComponent(s)}`), headers: admin },
    },
    {
      name: 'workers-stats',
      description: `GET /workers/stats over ${o.nodes} nodes, ${FLEET_CONNECTIONS} connections`,
      spec: { ...api, connections: FLEET_CONNECTIONS, method: 'GET', paths: [`${API}/workers/stats`], headers: admin },
    },
    { name: 'services', description: 'GET /services (public, no token)', spec: { ...api, method: 'GET', paths: [`${API}/services`], headers: [{}] } },
    { name: 'services-public', description: 'GET /services/public (user token)', spec: { ...api, method: 'GET', paths: [`${API}/services/public`], headers: [bearer(t.userToken)] } },
    {
      name: 'users-search',
      description: `GET /users?search=<full name>, ${data.searchTerms.length} different terms over ${o.users} users`,
      spec: { ...api, method: 'GET', paths: data.searchTerms.map((s) => `${API}/users?search=${encodeURIComponent(s)}`), headers: admin },
    },
  ];
}

/** Logins of many seeded users (one bcrypt compare each at the configured cost). */
export function loginScenario(data: BenchData, t: Targets, o: BenchOptions): Scenario {
  return {
    name: 'login',
    description: `POST /auth/login, ${o.loginConnections} concurrent, bcrypt cost ${o.bcryptCost}`,
    spec: {
      base: t.api,
      connections: o.loginConnections,
      // bcrypt allows only a few logins a second: a longer window gives a steadier rate.
      duration: Math.max(o.duration, 10),
      warmup: o.warmup,
      method: 'POST',
      paths: [`${API}/auth/login`],
      headers: [{}],
      bodies: data.userEmails.map((email) => JSON.stringify({ email, password: data.userPassword })),
    },
  };
}

/** /health at a fixed, modest rate: a probe whose latency shows whether logins block the event loop. */
export function healthProbe(t: Targets, o: BenchOptions, duration: number): Scenario {
  return {
    name: 'health-during-logins',
    description: `GET /health at ${o.probeRate}/s while logins saturate the CPU`,
    spec: { base: t.api, connections: 2, duration, warmup: 0, method: 'GET', paths: ['/health'], headers: [{}], overallRate: o.probeRate },
  };
}
