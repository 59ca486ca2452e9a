import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcrypt';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/lib/embedded-postgres.js';
import { runPrisma } from '../src/lib/migrate.js';
import type { BenchOptions } from './options.js';

export interface Agent {
  id: string;
  token: string;
}

export interface BenchData {
  url: string;
  agents: Agent[];
  admin: { email: string; password: string };
  /** Every seeded user shares this password (and one bcrypt hash of it). */
  userPassword: string;
  userEmails: string[];
  searchTerms: string[];
  /** Distinct GET /workers?search= terms: node names and IP addresses, each matching a few nodes. */
  nodeSearchTerms: string[];
  stop: () => Promise<void>;
}

const FIRST = ['Ayu', 'Budi', 'Citra', 'Dewi', 'Eko', 'Fajar', 'Gita', 'Hadi', 'Indah', 'Joko', 'Kartika', 'Lestari', 'Made', 'Nur', 'Oka', 'Putri', 'Rizky', 'Sari', 'Tono', 'Wulan'];
const LAST = ['Santoso', 'Wijaya', 'Kusuma', 'Pratama', 'Saputra', 'Hidayat', 'Nugroho', 'Siregar', 'Lubis', 'Halim', 'Gunawan', 'Setiawan', 'Rahman', 'Susanto', 'Purnomo', 'Utami', 'Harahap', 'Tanjung', 'Wibowo', 'Sitompul', 'Permana', 'Anggraini', 'Firmansyah', 'Maharani', 'Syahputra'];
const sqlArray = (items: string[]) => `ARRAY[${items.map((s) => `'${s}'`).join(',')}]`;

const NOW = `(now() AT TIME ZONE 'UTC')`;

/**
 * Set-based seeding: one INSERT … SELECT per table over generate_series/unnest, so 30,000 rows
 * take about a second. Only two bcrypt hashes are computed: one shared by every user, one for
 * the bench administrator.
 */
async function seed(client: pg.Client, options: BenchOptions, hashes: string[], shared: { hash: string }, admin: { email: string; hash: string }) {
  await client.query(
    `INSERT INTO users (id, name, email, password, role, "isActive", "lastLoginAt", "createdAt", "updatedAt")
     SELECT 'bench-user-' || i,
            (${sqlArray(FIRST)})[1 + i % ${FIRST.length}] || ' ' || (${sqlArray(LAST)})[1 + (i / ${FIRST.length}) % ${LAST.length}],
            'user' || i || '@bench.minispod.test', $1, 'USER', i % 25 <> 0,
            CASE WHEN i % 3 = 0 THEN NULL ELSE ${NOW} - i * interval '7 minutes' END,
            ${NOW} - i * interval '13 minutes', ${NOW} - i * interval '5 minutes'
     FROM generate_series(1, $2::int) AS i`,
    [shared.hash, options.users],
  );
  await client.query(
    `INSERT INTO users (id, name, email, password, role, "isActive", "createdAt", "updatedAt")
     VALUES ('bench-admin', 'Bench Administrator', $1, $2, 'ADMINISTRATOR', true, ${NOW}, ${NOW})`,
    [admin.email, admin.hash],
  );
  await client.query(
    `INSERT INTO service_catalog (id, name, "nameKey", slug, "displayName", description, category, version, status, "dockerImage", "containerPort",
       "monthlyPrice", currency, "cpuRequest", "cpuLimit", "memRequest", "memLimit", storage, "environmentVars", "createdAt", "updatedAt")
     SELECT 'bench-svc-' || i, 'Bench Service ' || i, 'bench service ' || i, 'bench-service-' || i, 'Bench Service ' || i || ' (self-hosted)',
            'A self-hostable application used to measure the catalog: web UI, REST API and a small worker process',
            (ARRAY['automation','cms','database','analytics','devtools'])[1 + i % 5], '1.' || i,
            (CASE WHEN i % 10 = 0 THEN 'INACTIVE' ELSE 'ACTIVE' END)::"ServiceStatus",
            'example/app-' || i || ':latest', 8000 + i, 10000 + i * 1000, 'IDR', '250m', '1', '256Mi', '1Gi', '5Gi',
            jsonb_build_object('TZ', 'Asia/Jakarta', 'PORT', (8000 + i)::text), ${NOW} - i * interval '1 day', ${NOW} - i * interval '1 hour'
     FROM generate_series(1, $1::int) AS i`,
    [options.services],
  );
  // Status mix of a real fleet: mostly ACTIVE, some of every other state, each with a consistent
  // readiness, heartbeat age, usage within capacity and labels.
  await client.query(
    `INSERT INTO worker_nodes (id, name, hostname, "ipAddress", "cpuCores", "cpuArchitecture", "totalMemory", "totalStorage", architecture,
       "operatingSystem", status, "statusReason", "isReady", "isSchedulable", "maxPods", "currentPods", "allocatedCPU", "allocatedMemory",
       "allocatedStorage", labels, taints, "kubeletVersion", "containerRuntime", "kernelVersion", "osImage", "lastHeartbeat", "lastHealthCheck",
       "agentTokenHash", "createdAt", "updatedAt")
     SELECT 'bench-node-' || lpad(i::text, 6, '0'), 'bench-node-' || i, 'bench-node-' || i || '.cluster.local',
            '10.' || (i / 65536) % 256 || '.' || (i / 256) % 256 || '.' || i % 256,
            c.cores, CASE WHEN i % 4 = 0 THEN 'aarch64' ELSE 'x86_64' END, c.cores * 4096, c.cores * 64000,
            CASE WHEN i % 4 = 0 THEN 'arm64' ELSE 'amd64' END, 'Ubuntu 22.04 LTS', s.status::"WorkerNodeStatus",
            CASE s.status WHEN 'NOT_READY' THEN 'kubelet stopped posting status' WHEN 'MAINTENANCE' THEN 'kernel upgrade' ELSE NULL END,
            s.status = 'ACTIVE', s.status IN ('ACTIVE', 'NOT_READY'), 110, i % 100, (i % 4) * c.cores / 4.0, (i % 4) * c.cores * 1024,
            (i % 4) * c.cores * 16000,
            jsonb_build_object('kubernetes.io/hostname', 'bench-node-' || i, 'topology.kubernetes.io/zone', 'zone-' || i % 3, 'kubernetes.io/os', 'linux'),
            '[]'::jsonb, 'v1.29.' || i % 5, 'containerd://1.7.' || i % 10, '6.1.0-' || i % 20 || '-amd64', 'Ubuntu 22.04.4 LTS',
            ${NOW} - (CASE WHEN s.status = 'ACTIVE' THEN i % 60 ELSE 600 + i % 3600 END) * interval '1 second',
            ${NOW} - (i % 60) * interval '1 second', h.hash, ${NOW} - i * interval '1 minute', ${NOW} - (i % 60) * interval '1 second'
     FROM unnest($1::text[]) WITH ORDINALITY AS h(hash, i),
          LATERAL (SELECT (ARRAY[4, 8, 16, 32])[1 + i % 4] AS cores) c,
          LATERAL (SELECT (ARRAY['ACTIVE','ACTIVE','ACTIVE','ACTIVE','ACTIVE','ACTIVE','INACTIVE','MAINTENANCE','PENDING','NOT_READY'])[1 + i % 10] AS status) s`,
    [hashes],
  );
  // What autovacuum would have done by the time a real fleet is this size: statistics and the visibility map.
  await client.query('VACUUM ANALYZE');
}

/** Starts an embedded PostgreSQL in a temporary directory, migrates it and seeds the bench volume. */
export async function prepareDatabase(options: BenchOptions, log: (line: string) => void): Promise<BenchData> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minispod-bench-'));
  fs.chmodSync(dir, 0o755);
  const t0 = Date.now();
  const embedded = await startEmbeddedPostgres({ dataDir: path.join(dir, 'data'), persistent: false, database: 'minispod_bench' });
  const stop = async () => {
    await embedded.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await runPrisma(['migrate', 'deploy'], embedded.url);
    log(`PostgreSQL started and migrated in ${((Date.now() - t0) / 1000).toFixed(1)}s`);

    const t1 = Date.now();
    const tokens = Array.from({ length: options.nodes }, () => `mpn_${randomBytes(32).toString('base64url')}`);
    const hashes = tokens.map((t) => createHash('sha256').update(t).digest('hex'));
    const userPassword = 'Bench-User-Pass-1!';
    const admin = { email: 'bench-admin@minispod.test', password: `Bench-Admin-${randomBytes(6).toString('hex')}-1!` };
    const [sharedHash, adminHash] = await Promise.all([bcrypt.hash(userPassword, options.bcryptCost), bcrypt.hash(admin.password, options.bcryptCost)]);

    const client = new pg.Client({ connectionString: embedded.url });
    await client.connect();
    try {
      await seed(client, options, hashes, { hash: sharedHash }, { email: admin.email, hash: adminHash });
    } finally {
      await client.end();
    }
    log(`Seeded ${options.nodes} nodes, ${options.users} users, ${options.services} services in ${((Date.now() - t1) / 1000).toFixed(1)}s`);

    const agents = tokens.slice(0, options.agentTokens).map((token, i) => ({ id: `bench-node-${String(i + 1).padStart(6, '0')}`, token }));
    // Active users only (every 25th is deactivated), spread over the table.
    const userEmails = Array.from({ length: Math.min(options.users, 500) }, (_, k) => 1 + ((k * 19) % options.users))
      .filter((i) => i % 25 !== 0)
      .map((i) => `user${i}@bench.minispod.test`);
    // Full names match a handful of users each: the selective search a person types.
    const searchTerms = FIRST.slice(0, 10).flatMap((f, i) => [`${f} ${LAST[(i * 3) % LAST.length]}`, `${f.toLowerCase()} ${LAST[(i * 7 + 1) % LAST.length]?.toLowerCase()}`]);
    // What an operator types to find a node: its name, or its IP address (which also matches the
    // few whose last octet extends it). A name number above a tenth of the fleet is no prefix of another's.
    const tenth = Math.floor(options.nodes / 10);
    const nodeAt = (k: number) => tenth + 1 + ((k * 7919) % (options.nodes - tenth));
    const ipOf = (i: number) => `10.${(i >> 16) % 256}.${(i >> 8) % 256}.${i % 256}`;
    const nodeSearchTerms = [...Array.from({ length: 14 }, (_, k) => `bench-node-${nodeAt(k)}`), ...Array.from({ length: 6 }, (_, k) => ipOf(nodeAt(100 + k)))];
    return { url: embedded.url, agents, admin, userPassword, userEmails, searchTerms, nodeSearchTerms, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
