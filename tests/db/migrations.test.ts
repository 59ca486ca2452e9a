import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { runPrisma } from '../../src/lib/migrate.js';
import { createDatabase, dropDatabase } from '../helpers/test-database.js';

/** Everything about a schema that matters, read from the catalog (works on any server version). */
async function snapshot(url: string): Promise<Record<string, string[]>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const q = async (sql: string) => (await client.query<{ x: string }>(sql)).rows.map((r) => r.x);
    return {
      columns: await q(`SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || udt_name || ' null=' || is_nullable || ' default=' || coalesce(column_default, '') AS x
        FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations' ORDER BY 1`),
      indexes: await q(`SELECT indexdef AS x FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY 1`),
      constraints: await q(`SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS x
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> '_prisma_migrations' ORDER BY 1`),
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
    await client.query(script.replace(/^Loaded Prisma config.*$/m, '')).finally(() => client.end());

    const [a, b] = await Promise.all([snapshot(migrated), snapshot(fromSchema)]);
    expect(a.columns?.length).toBeGreaterThan(40);
    expect(a).toEqual(b);

    const status = await runPrisma(['migrate', 'status'], migrated);
    expect(status).toMatch(/Database schema is up to date/);
  });
});
