import type { Role } from '../../generated/prisma/enums.js';
import { paginate } from '../../lib/http/index.js';
import type { Sql } from '../../lib/sql.js';
import { toUserView } from '../auth/index.js';
import type { ListUsersInput } from './users.service.js';

interface ListedUser {
  id: string;
  name: string;
  email: string;
  role: Role;
  isActive: boolean;
  lastLoginAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  subscriptions: number;
}

// ILIKE takes the search as a pattern: escape the wildcards so "%" searches for "%".
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * GET /users as plain SQL on the pool (through Prisma the page costs several times the CPU). The
 * search is served by the trigram indexes on name and email; the sort column comes from
 * USER_SORT_FIELDS and every value is a parameter. The id tie-break keeps pages stable.
 */
export async function listUsers(sql: Sql, q: ListUsersInput) {
  const values: unknown[] = [];
  const conditions: string[] = [];
  if (q.role) conditions.push(`u.role = $${values.push(q.role)}::"Role"`);
  if (q.isActive !== undefined) conditions.push(`u."isActive" = $${values.push(q.isActive)}::boolean`);
  if (q.search) {
    const pattern = `$${values.push(`%${likeLiteral(q.search)}%`)}::text`;
    conditions.push(`(u.name ILIKE ${pattern} OR u.email ILIKE ${pattern})`);
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const order = q.sortOrder === 'asc' ? 'ASC' : 'DESC';
  const n = values.length;
  // A search is planned with its pattern (see SqlOptions.prepare).
  const planned = { prepare: !q.search };
  const [rows, counted] = await Promise.all([
    sql<ListedUser>(
      `SELECT u.id, u.name, u.email, u.role, u."isActive", u."lastLoginAt", u."createdAt", u."updatedAt",
         (SELECT count(*)::int FROM subscriptions s WHERE s."userId" = u.id) AS subscriptions
       FROM users u ${where} ORDER BY u."${q.sortBy}" ${order}, u.id ${order} LIMIT $${n + 1}::int OFFSET $${n + 2}::int`,
      [...values, q.limit, (q.page - 1) * q.limit],
      planned,
    ),
    sql<{ total: number }>(`SELECT count(*)::int AS total FROM users u ${where}`, values, planned),
  ]);
  return {
    users: rows.map(({ subscriptions, ...user }) => toUserView({ ...user, _count: { subscriptions } })),
    pagination: paginate(q.page, q.limit, counted[0]?.total ?? 0),
  };
}
