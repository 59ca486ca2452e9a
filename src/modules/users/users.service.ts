import type { Config } from '../../lib/config.js';
import type { Db, DbClient } from '../../lib/db.js';
import { conflict, forbidden, notFound } from '../../lib/errors/index.js';
import type { Logger } from '../../lib/logger.js';
import type { Role } from '../../generated/prisma/enums.js';
import type { JobQueue } from '../../lib/jobs.js';
import { assertAdminsRemain, dispatchSoon, ENDS_ACCESS_TOKENS, hashPassword, recordPasswordChanged, revokeUserSessions, toUserView, USER_VIEW_WITH_COUNT_SELECT } from '../auth/index.js';
import type { USER_SORT_FIELDS } from './users.schemas.js';

export interface UsersDeps {
  db: Db;
  config: Pick<Config, 'bcryptCost'>;
  logger: Logger;
  jobs: JobQueue;
}

export interface ListUsersInput {
  page: number;
  limit: number;
  search?: string;
  sortBy: (typeof USER_SORT_FIELDS)[number];
  sortOrder: 'asc' | 'desc';
  role?: Role;
  isActive?: boolean;
}

interface StatsRow {
  total: number;
  active: number;
  admins: number;
  new7: number;
  new30: number;
  subscribed: number;
}

/** One pass over the table in the database, however many users there are. */
export async function getUserStats({ db }: UsersDeps) {
  const [s] = await db.$queryRaw<StatsRow[]>`
    SELECT count(*)::int AS total,
           count(*) FILTER (WHERE u."isActive")::int AS active,
           count(*) FILTER (WHERE u.role = 'ADMINISTRATOR')::int AS admins,
           count(*) FILTER (WHERE u."createdAt" >= now() - interval '7 days')::int AS new7,
           count(*) FILTER (WHERE u."createdAt" >= now() - interval '30 days')::int AS new30,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s."userId" = u.id))::int AS subscribed
    FROM users u`;
  const row = s as StatsRow;
  return {
    totalUsers: row.total,
    activeUsers: row.active,
    inactiveUsers: row.total - row.active,
    adminUsers: row.admins,
    regularUsers: row.total - row.admins,
    byRole: { USER: row.total - row.admins, ADMINISTRATOR: row.admins },
    newUsersLast7Days: row.new7,
    newUsersLast30Days: row.new30,
    usersWithSubscriptions: row.subscribed,
    usersWithoutSubscriptions: row.total - row.subscribed,
  };
}

async function findView(db: DbClient, id: string) {
  const user = await db.user.findUnique({ where: { id }, select: USER_VIEW_WITH_COUNT_SELECT });
  if (!user) throw notFound('user', id);
  return user;
}

/** Locks one user's row for the rest of the transaction, so read-then-write decisions hold. */
async function lockUser(tx: DbClient, id: string) {
  const rows = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM users WHERE id = ${id} FOR UPDATE`;
  if (rows.length === 0) throw notFound('user', id);
}

export const getUser = async ({ db }: UsersDeps, id: string) => toUserView(await findView(db, id));

export async function createUser({ db, config }: UsersDeps, input: { name: string; email: string; password: string; role: Role; isActive: boolean }) {
  const password = await hashPassword(input.password, config.bcryptCost);
  return toUserView(await db.user.create({ data: { ...input, password }, select: USER_VIEW_WITH_COUNT_SELECT }));
}

export async function updateUser({ db }: UsersDeps, actorId: string, id: string, input: { name?: string; email?: string; role?: Role; isActive?: boolean }) {
  if (id === actorId && input.isActive === false) throw forbidden('You cannot deactivate your own account');
  if (id === actorId && input.role === 'USER') throw forbidden('You cannot remove your own administrator role');
  return db.$transaction(async (tx) => {
    if (input.isActive === false || input.role === 'USER') await assertAdminsRemain(tx, [id]);
    await lockUser(tx, id);
    const user = await tx.user.update({ where: { id }, data: { ...input, ...(input.isActive === false ? ENDS_ACCESS_TOKENS : {}) }, select: USER_VIEW_WITH_COUNT_SELECT });
    if (input.isActive === false) await revokeUserSessions(tx, id);
    return toUserView(user);
  });
}

/**
 * Sets a new password and ends the user's sessions: a reset usually means the old one leaked.
 * Not for the caller's own account, where it would skip the current password: that is what
 * POST /auth/change-password is for.
 */
export async function resetPassword({ db, config, logger, jobs }: UsersDeps, actorId: string, id: string, newPassword: string) {
  if (id === actorId) throw forbidden('Use POST /auth/change-password to change your own password');
  const password = await hashPassword(newPassword, config.bcryptCost);
  const user = await db.$transaction(async (tx) => {
    await lockUser(tx, id);
    const updated = await tx.user.update({ where: { id }, data: { password, ...ENDS_ACCESS_TOKENS }, select: USER_VIEW_WITH_COUNT_SELECT });
    await revokeUserSessions(tx, id);
    await recordPasswordChanged(tx, id, 'administrator');
    return updated;
  });
  dispatchSoon(jobs);
  logger.info('Password reset by an administrator', { userId: id });
  return toUserView(user);
}

export async function toggleStatus({ db }: UsersDeps, actorId: string, id: string) {
  // The caller is active, so toggling themselves could only deactivate them.
  if (id === actorId) throw forbidden('You cannot deactivate your own account');
  return db.$transaction(async (tx) => {
    await assertAdminsRemain(tx, [id]);
    await lockUser(tx, id);
    const current = await tx.user.findUniqueOrThrow({ where: { id }, select: { isActive: true } });
    const user = await tx.user.update({ where: { id }, data: current.isActive ? { isActive: false, ...ENDS_ACCESS_TOKENS } : { isActive: true }, select: USER_VIEW_WITH_COUNT_SELECT });
    if (!user.isActive) await revokeUserSessions(tx, id);
    return toUserView(user);
  });
}

export async function deleteUser({ db, logger }: UsersDeps, actorId: string, id: string) {
  if (id === actorId) throw forbidden('You cannot delete your own account');
  const user = await db.$transaction(async (tx) => {
    await assertAdminsRemain(tx, [id]);
    await lockUser(tx, id);
    const found = await findView(tx, id);
    if (found._count.subscriptions > 0) throw conflict('id', 'The user has subscriptions; deactivate the account instead');
    await tx.user.delete({ where: { id } });
    return found;
  });
  logger.info('User deleted', { userId: id });
  return toUserView(user);
}
