import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDb, type DbHandle } from '../../src/lib/db.js';
import { sqlFor, type Sql } from '../../src/lib/sql.js';
import { listActiveServices, listPublicServices } from '../../src/modules/catalog/catalog.public.js';
import { adminListQuery, publicListQuery } from '../../src/modules/catalog/catalog.schemas.js';
import { listAdminServices } from '../../src/modules/catalog/catalog.service.js';
import { listUsers } from '../../src/modules/users/users.list.js';
import { listUsersQuery } from '../../src/modules/users/users.schemas.js';
import { listNodes } from '../../src/modules/workers/workers.list.js';
import { listNodesQuery, livenessQuery } from '../../src/modules/workers/workers.schemas.js';
import { createDatabase, dropDatabase } from '../helpers/test-database.js';

// The plans PostgreSQL really ran for the statements the list code sends, caught by auto_explain
// on every connection of the pool (its LOG lines reach the client as notices): no copy of a
// statement, no EXPLAIN of a guess. Timings are not asserted; the plan shape is.
const ROWS = 20_000;
const SERVICES = 20_000;
const ROUNDS = 7; // more than the five custom plans after which a prepared statement may go generic
const adminUrl = inject('adminDatabaseUrl');
let url: string;
let handle: DbHandle;
let sql: Sql;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}
const plans: { text: string; plan: PlanNode }[] = [];

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

beforeAll(async () => {
  url = await createDatabase(adminUrl, 'minispod_plans', inject('templateDatabaseUrl'));
  const seed = new pg.Client({ connectionString: url });
  await seed.connect();
  try {
    // md5 text makes every search term below match one or two rows, as a person's search does.
    await seed.query(
      `INSERT INTO users (id, name, email, password, "createdAt", "updatedAt")
       SELECT 'plan-user-' || i, 'User ' || md5(i::text), 'u' || i || '-' || md5('e' || i) || '@plans.test', 'x', now() - i * interval '1 minute', now()
       FROM generate_series(1, $1::int) AS i`,
      [ROWS],
    );
    await seed.query(
      `INSERT INTO worker_nodes (id, name, hostname, "ipAddress", "cpuCores", "cpuArchitecture", "totalMemory", "totalStorage", architecture, "operatingSystem", "updatedAt")
       SELECT 'plan-node-' || i, 'node-' || md5(i::text), 'host-' || md5('h' || i) || '.cluster.local',
              '10.' || (i / 65536) % 256 || '.' || (i / 256) % 256 || '.' || i % 256, 4,
              CASE WHEN i % 4 = 0 THEN 'aarch64' ELSE 'x86_64' END, 16384, 100000, CASE WHEN i % 4 = 0 THEN 'arm64' ELSE 'amd64' END, 'linux', now()
       FROM generate_series(1, $1::int) AS i`,
      [ROWS],
    );
    await seed.query(
      `INSERT INTO service_catalog (id, name, "nameKey", slug, "displayName", description, category, version, status,
         "monthlyPrice", "cpuRequest", "cpuLimit", "memRequest", "memLimit", "updatedAt")
       SELECT 'plan-svc-' || i, 'App ' || md5(i::text), 'app ' || md5(i::text), 'app-' || md5(i::text), 'App ' || i,
              'A self-hostable application ' || md5('d' || i), (ARRAY['automation','cms','database','analytics','devtools'])[1 + i % 5], '1.0',
              'ACTIVE', 10000 + i, '250m', '1', '256Mi', '1Gi', now()
       FROM generate_series(1, $1::int) AS i`,
      [SERVICES],
    );
    await seed.query('VACUUM ANALYZE');
  } finally {
    await seed.end();
  }
  // One connection: every statement text runs on it more than five times, so PostgreSQL's choice
  // of a cached generic plan over planning with the values is made, and its plan caught.
  handle = createDb({ url, poolMax: 1 });
  handle.pool.on('connect', (client) => {
    client.on('notice', (notice) => {
      if (!notice.message?.startsWith('duration:')) return;
      const json = notice.message.indexOf('{');
      const explained = JSON.parse(notice.message.slice(json)) as { 'Query Text': string; Plan: PlanNode };
      plans.push({ text: explained['Query Text'], plan: explained.Plan });
    });
    // Queued before any statement of the pool's on this connection.
    void client.query(`LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_format = json; SET client_min_messages = log`);
  });
  sql = sqlFor(handle.db);
}, 120_000);

afterAll(async () => {
  await handle?.close();
  if (url) await dropDatabase(adminUrl, url);
});

/** Search terms that are substrings of the seeded text of `count` different rows. */
const terms = (prefix: string, count: number, salt = '') => Array.from({ length: count }, (_, k) => `${prefix}${md5Slice(`${salt}${1 + k * 997}`)}`);
// Nine hex digits from the middle of md5(text): a term found in one row, or very few.
const md5Slice = (text: string) => createHash('md5').update(text).digest('hex').slice(8, 17);

/** The plans of searches on `table` since `from`: each must read the table through one of `indexes`. */
function expectIndexServed(from: number, table: string, indexes: string[], expected: number) {
  const searches = plans.slice(from).filter((p) => /ILIKE/i.test(p.text) && nodesOf(p.plan).some((n) => n['Relation Name'] === table || n['Index Name']?.startsWith(table)));
  expect(searches.length).toBeGreaterThanOrEqual(expected);
  for (const { text, plan } of searches) {
    const nodes = nodesOf(plan);
    const scans = nodes.filter((n) => n['Relation Name'] === table && n['Node Type'] !== 'Bitmap Heap Scan');
    const why = `${text.slice(0, 300)}\n${JSON.stringify(plan).slice(0, 2000)}`;
    expect(scans.map((n) => n['Node Type']), why).toEqual([]);
    const used = nodes.filter((n) => n['Node Type'] === 'Bitmap Index Scan').map((n) => n['Index Name']);
    expect(used.length, why).toBeGreaterThan(0);
    for (const name of used) expect(indexes, why).toContain(name);
  }
  return searches;
}

/** `ROUNDS` rounds of every term at once (one event-loop turn, as concurrent requests), then one term alone `ROUNDS` times. */
async function concurrentThenAlone(list: (search: string) => Promise<unknown>, searchTerms: string[]) {
  for (let round = 0; round < ROUNDS; round++) await Promise.all(searchTerms.map(list));
  for (let round = 0; round < ROUNDS; round++) await list(searchTerms[0] as string);
}

describe('searches are served by trigram indexes, for any mix of concurrent terms', () => {
  it('GET /users?search=: name or email through users_name_trgm_idx and users_email_trgm_idx', async () => {
    const from = plans.length;
    const searchTerms = [...terms('', 10), ...terms('', 10, 'e')];
    await concurrentThenAlone((search) => listUsers(sql, listUsersQuery.parse({ search })), searchTerms);
    const searches = expectIndexServed(from, 'users', ['users_name_trgm_idx', 'users_email_trgm_idx'], ROUNDS * 2);
    // Concurrent terms ran as one batched statement (batchOf), a lone term as the prepared page query.
    expect(searches.filter((s) => s.text.includes('__batch'))).toHaveLength(ROUNDS);
    expect(searches.filter((s) => !s.text.includes('__batch'))).toHaveLength(ROUNDS);
  });

  it('GET /workers?search= (and /online, /offline): every searched column through worker_nodes_search_trgm_idx', async () => {
    const from = plans.length;
    const searchTerms = [...terms('node-', 10), ...terms('', 10, 'h')];
    await concurrentThenAlone((search) => listNodes(sql, listNodesQuery.parse({ search }), { now: new Date(), graceSeconds: 90 }), searchTerms);
    await Promise.all(searchTerms.map((search) => listNodes(sql, livenessQuery.parse({ search }), { now: new Date(), graceSeconds: 90 }, 'online')));
    expectIndexServed(from, 'worker_nodes', ['worker_nodes_search_trgm_idx'], ROUNDS * 2);
  });

  it('GET /services/public, /services and /services/admin?search=: through service_catalog_search_trgm_idx', async () => {
    const from = plans.length;
    const searchTerms = [...terms('', 10), ...terms('', 10, 'd')];
    await concurrentThenAlone((search) => listPublicServices(sql, publicListQuery.parse({ search })), searchTerms);
    await concurrentThenAlone((search) => listActiveServices(sql, adminListQuery.parse({ search })), searchTerms);
    await concurrentThenAlone((search) => listAdminServices(handle.db, adminListQuery.parse({ search })), searchTerms);
    expectIndexServed(from, 'service_catalog', ['service_catalog_search_trgm_idx'], ROUNDS * 6);
  });
});
