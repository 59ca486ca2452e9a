import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { runPrisma } from '../../src/lib/migrate.js';
import { createDatabase, dropDatabase } from '../helpers/test-database.js';

const REORDER = '20261201000000_worker_nodes_fixed_width_first';
const NEVER_HEARTBEATED = '20261202100000_worker_nodes_never_heartbeated';

/** Everything about a schema that matters, read from the catalog (works on any server version). */
async function snapshot(url: string): Promise<Record<string, string[]>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const q = async (sql: string) => (await client.query<{ x: string }>(sql)).rows.map((r) => r.x);
    return {
      columns: await q(`SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || udt_name || ' null=' || is_nullable || ' default=' || coalesce(column_default, '') AS x
        FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations' ORDER BY 1`),
      // Order matters too: worker_nodes keeps its fixed-width columns first.
      columnOrder: await q(`SELECT table_name || ': ' || string_agg(column_name, ',' ORDER BY ordinal_position) AS x
        FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations' GROUP BY table_name ORDER BY 1`),
      indexes: await q(`SELECT indexdef AS x FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY 1`),
      constraints: await q(`SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS x
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> '_prisma_migrations' ORDER BY 1`),
      sequences: await q(`SELECT sequencename AS x FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1`),
      functions: await q(`SELECT p.oid::regprocedure::text || ' ' || md5(pg_get_functiondef(p.oid)) AS x FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace ORDER BY 1`),
      triggers: await q(`SELECT pg_get_triggerdef(oid) AS x FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text NOT LIKE '%.%' ORDER BY 1`),
      enums: await q(`SELECT t.typname || ': ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS x
        FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname ORDER BY 1`),
    };
  } finally {
    await client.end();
  }
}

describe('prisma/migrations', () => {
  const admin = inject('adminDatabaseUrl');
  const created: string[] = [];
  afterAll(async () => {
    for (const url of created) await dropDatabase(admin, url);
  });

  it('produce exactly the schema that schema.prisma describes', async () => {
    const migrated = await createDatabase(admin, 'minispod_mig');
    const fromSchema = await createDatabase(admin, 'minispod_schema');
    created.push(migrated, fromSchema);

    await runPrisma(['migrate', 'deploy'], migrated);
    const script = await runPrisma(['migrate', 'diff', '--from-empty', '--to-schema-datamodel', 'prisma/schema.prisma', '--script'], fromSchema);
    const client = new pg.Client({ connectionString: fromSchema });
    await client.connect();
    // The schema's own script, then the rules it cannot express (CHECK, partial index, sequence).
    await client
      .query(script.replace(/^Loaded Prisma config.*$/m, ''))
      .then(() => client.query(fs.readFileSync(path.join('prisma', 'schema-extras.sql'), 'utf8')))
      .finally(() => client.end());

    const [a, b] = await Promise.all([snapshot(migrated), snapshot(fromSchema)]);
    expect(a.columns?.length).toBeGreaterThan(40);
    expect(a.triggers?.length).toBe(3);
    expect(a).toEqual(b);

    const status = await runPrisma(['migrate', 'status'], migrated);
    expect(status).toMatch(/Database schema is up to date/);
  });

  /** A new database with every migration before `migration` applied, and what applies one more. */
  async function migratedUpTo(prefix: string, migration: string) {
    const url = await createDatabase(admin, prefix);
    created.push(url);
    const dir = path.join('prisma', 'migrations');
    const names = fs.readdirSync(dir).filter((n) => fs.statSync(path.join(dir, n)).isDirectory()).sort();
    expect(names.indexOf(migration)).toBeGreaterThan(0);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const apply = async (name: string) => client.query(fs.readFileSync(path.join(dir, name, 'migration.sql'), 'utf8'));
    try {
      for (const name of names.slice(0, names.indexOf(migration))) await apply(name);
    } catch (err) {
      await client.end();
      throw err;
    }
    return { client, apply };
  }

  it('keep every worker node, value for value, when worker_nodes is rebuilt with its columns reordered', async () => {
    const { client, apply } = await migratedUpTo('minispod_reorder', REORDER);
    try {
      await client.query(`INSERT INTO worker_nodes (id, name, hostname, "ipAddress", "cpuCores", "cpuArchitecture", "totalMemory", "totalStorage", architecture,
          "operatingSystem", status, "statusReason", "isReady", "isSchedulable", "maxPods", "currentPods", "allocatedCPU", "allocatedMemory", "allocatedStorage",
          labels, taints, "kubeletVersion", "agentTokenHash", "lastHeartbeat", "updatedAt")
        VALUES ('n1', 'node-1', 'node-1.local', '10.0.0.1', 8, 'x86_64', 32768, 512000, 'amd64', 'Ubuntu', 'ACTIVE', 'why', true, true, 50, 7, 1.5, 2048, 4096,
          '{"zone": "a"}', '[{"key": "k"}]', 'v1.29.0', 'hash-1', '2026-01-01 10:00:00.123', '2026-01-01 10:00:00'),
          ('n2', 'node-2', 'node-2.local', '10.0.0.2', 4, 'aarch64', 16384, 256000, 'arm64', 'Debian', 'PENDING', NULL, false, false, 110, 0, 0, 0, 0,
          '{}', '[]', NULL, NULL, '2026-01-02 00:00:00', '2026-01-02 00:00:00')`);
      const rows = async () => (await client.query('SELECT to_jsonb(w) AS row FROM worker_nodes w ORDER BY id')).rows.map((r: { row: unknown }) => r.row);
      const before = await rows();
      await apply(REORDER);
      expect(await rows()).toEqual(before);
      const order = await client.query<{ attname: string }>(`SELECT attname FROM pg_attribute WHERE attrelid = 'worker_nodes'::regclass AND attnum > 0 ORDER BY attnum`);
      expect(order.rows[0]?.attname).toBe('totalMemory');
      const options = await client.query<{ reloptions: string[] }>(`SELECT reloptions FROM pg_class WHERE relname = 'worker_nodes'`);
      expect(options.rows[0]?.reloptions).toEqual(['fillfactor=70']);
      // Constraints still hold on the rebuilt table.
      await expect(client.query(`INSERT INTO worker_nodes (id, name, hostname, "ipAddress", "cpuCores", "cpuArchitecture", "totalMemory", "totalStorage", architecture, "operatingSystem", "updatedAt")
        VALUES ('n3', 'node-1', 'node-3.local', '10.0.0.3', 4, 'x86_64', 1, 1, 'amd64', 'Debian', now())`)).rejects.toThrow(/worker_nodes_name_key/);
    } finally {
      await client.end();
    }
  });

  it('clear the heartbeat time of nodes that never sent one, and keep every real heartbeat', async () => {
    const { client, apply } = await migratedUpTo('minispod_heartbeat', NEVER_HEARTBEATED);
    try {
      // As Prisma registered them: both columns from one reading of the clock.
      const node = (id: string, heartbeat: string) => `('${id}', '${id}', '${id}.local', '10.0.0.1', 8, 'x86_64', 1, 1, 'amd64', 'Ubuntu', '2026-01-01 10:00:00.123', '${heartbeat}', now())`;
      await client.query(`INSERT INTO worker_nodes (id, name, hostname, "ipAddress", "cpuCores", "cpuArchitecture", "totalMemory", "totalStorage", architecture, "operatingSystem", "createdAt", "lastHeartbeat", "updatedAt")
        VALUES ${node('never', '2026-01-01 10:00:00.123')}, ${node('beating', '2026-01-01 10:00:07.5')}`);
      await apply(NEVER_HEARTBEATED);
      const rows = await client.query<{ id: string; lastHeartbeat: string | null }>(`SELECT id, "lastHeartbeat"::text AS "lastHeartbeat" FROM worker_nodes ORDER BY id`);
      expect(rows.rows).toEqual([
        { id: 'beating', lastHeartbeat: '2026-01-01 10:00:07.5' },
        { id: 'never', lastHeartbeat: null },
      ]);
    } finally {
      await client.end();
    }
  });
});
