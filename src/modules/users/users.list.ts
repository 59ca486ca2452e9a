import { paginate } from '../../lib/http/index.js';
import { containsPattern, pageWithTotal, type Sql } from '../../lib/sql.js';
import { toUserView, USER_VIEW_COLUMNS, type UserRow } from '../auth/index.js';
import type { ListUsersInput } from './users.service.js';

type ListedUser = Omit<UserRow, '_count'> & { subscriptions: number };

/**
 * GET /users as plain SQL on the pool (through Prisma the page costs several times the CPU). The
 * search is served by the trigram indexes on name and email; the sort column comes from
 * USER_SORT_FIELDS and every value is a parameter. The id tie-break keeps pages stable.
 */
export async function listUsers(sql: Sql, q: ListUsersInput) {
  const values: unknown[] = [];
  const conditions: string[] = [];
  if (q.role) conditions.push(`role = $${values.push(q.role)}::"Role"`);
  if (q.isActive !== undefined) conditions.push(`"isActive" = $${values.push(q.isActive)}::boolean`);
  if (q.search) {
    const pattern = `$${values.push(containsPattern(q.search))}::text`;
    conditions.push(`(name ILIKE ${pattern} OR email ILIKE ${pattern})`);
  }
  const order = q.sortOrder === 'asc' ? 'ASC' : 'DESC';
  const orderBy = `"${q.sortBy}" ${order}, id ${order}`;
  const { rows, total } = await pageWithTotal<ListedUser>(sql, {
    from: 'users',
    where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '',
    values,
    columns: USER_VIEW_COLUMNS,
    // One scan of subscriptions for the page's users: a correlated count per row costs several times more.
    outer: `SELECT page.*, coalesce(sc.n, 0)::int AS subscriptions FROM page
      LEFT JOIN (SELECT "userId", count(*) AS n FROM subscriptions WHERE "userId" = ANY (ARRAY(SELECT id FROM page)) GROUP BY "userId") sc ON sc."userId" = page.id
      ORDER BY ${orderBy}`,
    orderBy,
    limit: q.limit,
    offset: (q.page - 1) * q.limit,
    search: q.search,
    share: true,
  });
  return {
    users: rows.map((row) => toUserView(row, row.subscriptions)),
    pagination: paginate(q.page, q.limit, total),
  };
}
