import { paginate } from '../../lib/http/index.js';
import { containsPattern, pageWithTotal, prepareSearch, type Sql } from '../../lib/sql.js';
import { toPublicService, type PublicServiceRow as PublicRow } from './catalog.mapper.js';
import type { AdminListQuery, PublicListQuery } from './catalog.schemas.js';

// The customers' catalog reads (every dashboard visit) run as plain SQL on the pool: through
// Prisma each row costs several times the CPU. Columns, filters and sort orders are closed lists;
// every value is a parameter. Concurrent identical reads share one statement (SqlOptions.share).
const PUBLIC_COLUMNS = `id, name, slug, "displayName", description, category, version, "monthlyPrice", currency, "cpuLimit", "memLimit", storage`;
const SEARCH_FIELDS = ['name', '"displayName"', 'slug', 'description', 'category'];

function activeWhere(q: { search?: string; category?: string }) {
  const values: unknown[] = [];
  const conditions = [`status = 'ACTIVE'`];
  if (q.category) conditions.push(`category = $${values.push(q.category)}::text`);
  if (q.search) {
    const pattern = `$${values.push(containsPattern(q.search))}::text`;
    conditions.push(`(${SEARCH_FIELDS.map((f) => `${f} ILIKE ${pattern}`).join(' OR ')})`);
  }
  return { where: `WHERE ${conditions.join(' AND ')}`, values };
}

// `id` breaks ties so pages never overlap when many rows share a sort value.
const orderOf = (q: { sortBy: string; sortOrder: 'asc' | 'desc' }) => `"${q.sortBy}" ${q.sortOrder === 'asc' ? 'ASC' : 'DESC'}, id ASC`;

/** GET /services/public: active services, paginated. */
export async function listPublicServices(sql: Sql, q: PublicListQuery) {
  const { where, values } = activeWhere(q);
  const { rows, total } = await pageWithTotal<PublicRow>(sql, {
    from: 'service_catalog',
    where,
    values,
    columns: PUBLIC_COLUMNS,
    orderBy: orderOf(q),
    limit: q.limit,
    offset: (q.page - 1) * q.limit,
    search: q.search,
    share: true,
  });
  return { services: rows.map(toPublicService), pagination: paginate(q.page, q.limit, total) };
}

/** GET /services without an administrator: every active service, as a bare array (the dashboard's catalog page). */
export async function listActiveServices(sql: Sql, q: AdminListQuery) {
  const { where, values } = activeWhere(q);
  const options = { share: true, prepare: prepareSearch(q.search) };
  return (await sql<PublicRow>(`SELECT ${PUBLIC_COLUMNS} FROM service_catalog ${where} ORDER BY ${orderOf(q)}`, values, options)).map(toPublicService);
}
