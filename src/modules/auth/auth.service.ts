import type { Config } from '../../lib/config.js';
import type { Db } from '../../lib/db.js';
import { AppError, fieldError, notFound } from '../../lib/errors/index.js';
import { recordEvent } from '../../lib/events.js';
import type { JobQueue } from '../../lib/jobs.js';
import type { Logger } from '../../lib/logger.js';
import type { Sql } from '../../lib/sql.js';
import { assertAdminsRemain, toUserView, USER_VIEW_SELECT, USER_VIEW_WITH_COUNT_SELECT } from './auth.accounts.js';
import { hashPassword, needsRehash, verifyPassword } from './auth.passwords.js';
import { ACCOUNT_EVENTS, dispatchSoon, recordPasswordChanged } from './auth.recovery.js';
import { issueTokens, revokeByToken, revokeUserSessions, rotateRefreshToken, signIn, type ClientMeta } from './auth.sessions.js';

export interface AuthDeps {
  db: Db;
  /** Plain SQL on the pool behind `db`, for the login's hot path. */
  sql: Sql;
  config: Pick<Config, 'jwt' | 'bcryptCost'>;
  logger: Logger;
  jobs: JobQueue;
  /** Hash compared against when the email is unknown, so timing does not reveal which emails exist. */
  dummyHash: () => Promise<string>;
}

const invalidCredentials = () => new AppError('INVALID_CREDENTIALS', 'Invalid email or password');
const accountDisabled = () => new AppError('ACCOUNT_DISABLED', 'This account is deactivated');

export async function register(deps: AuthDeps, input: { name: string; email: string; password: string }, meta: ClientMeta) {
  const password = await hashPassword(input.password, deps.config.bcryptCost);
  // A taken email fails on the unique index (409), which also settles concurrent registrations.
  const session = await deps.db.$transaction(async (tx) => {
    const user = await tx.user.create({ data: { name: input.name, email: input.email, password, role: 'USER' }, select: USER_VIEW_SELECT });
    const tokens = await issueTokens(tx, deps.config, user.id, meta);
    // The verification email is derived from this event.
    await recordEvent(tx, { type: ACCOUNT_EVENTS.registered, userId: user.id, subjectType: 'user', subjectId: user.id });
    return { user: toUserView(user), tokens };
  });
  dispatchSoon(deps.jobs);
  return session;
}

export async function login({ sql, config, logger, dummyHash }: AuthDeps, input: { email: string; password: string }, meta: ClientMeta) {
  const [user] = await sql<{ id: string; password: string; isActive: boolean }>('SELECT id, password, "isActive" FROM users WHERE email = $1::text', [input.email]);
  const matches = await verifyPassword(input.password, user?.password ?? (await dummyHash()));
  if (!user || !matches) throw invalidCredentials();
  // Only someone who knows the password learns that the account is deactivated.
  if (!user.isActive) throw accountDisabled();

  const rehash = needsRehash(user.password, config.bcryptCost) ? await hashPassword(input.password, config.bcryptCost) : undefined;
  const session = await signIn(sql, config, user.id, meta, rehash);
  // Deactivated or deleted while the password was being checked.
  if (!session) throw (await sql('SELECT 1 FROM users WHERE id = $1::text', [user.id])).length > 0 ? accountDisabled() : invalidCredentials();
  logger.info('User logged in', { userId: user.id });
  return { user: toUserView(session.user), tokens: session.tokens };
}

export const refresh = async ({ db, config, logger }: AuthDeps, refreshToken: string, meta: ClientMeta) => ({
  tokens: await rotateRefreshToken(db, config, logger, refreshToken, meta),
});

export const logout = ({ db }: AuthDeps, refreshToken: string) => revokeByToken(db, refreshToken);

export async function getProfile({ db }: AuthDeps, userId: string, withCount = false) {
  const user = await db.user.findUnique({ where: { id: userId }, select: withCount ? USER_VIEW_WITH_COUNT_SELECT : USER_VIEW_SELECT });
  if (!user) throw notFound('user', userId);
  return toUserView(user);
}

/** A new email is unverified until its owner follows the link sent to it. */
export async function updateProfile({ db, jobs }: AuthDeps, userId: string, input: { name?: string; email?: string }) {
  const { user, emailChanged } = await db.$transaction(async (tx) => {
    const before = await tx.user.findUnique({ where: { id: userId }, select: { email: true } });
    if (!before) throw notFound('user', userId);
    const emailChanged = input.email !== undefined && input.email !== before.email;
    const user = await tx.user.update({ where: { id: userId }, data: { ...input, ...(emailChanged ? { emailVerifiedAt: null } : {}) }, select: USER_VIEW_WITH_COUNT_SELECT });
    if (emailChanged) await recordEvent(tx, { type: ACCOUNT_EVENTS.emailChanged, userId, subjectType: 'user', subjectId: userId });
    return { user, emailChanged };
  });
  if (emailChanged) dispatchSoon(jobs);
  return toUserView(user);
}

/**
 * Changes the password after checking the current one, ends every existing session and opens a
 * new one, so the caller stays signed in and every other device must log in again.
 */
export async function changePassword({ db, config, logger, jobs }: AuthDeps, userId: string, input: { currentPassword: string; newPassword: string }, meta: ClientMeta) {
  const user = await db.user.findUniqueOrThrow({ where: { id: userId }, select: { password: true } });
  if (!(await verifyPassword(input.currentPassword, user.password))) throw fieldError('currentPassword', 'Current password is incorrect');
  const password = await hashPassword(input.newPassword, config.bcryptCost);
  const tokens = await db.$transaction(async (tx) => {
    await tx.user.update({ where: { id: userId }, data: { password } });
    await revokeUserSessions(tx, userId);
    await recordPasswordChanged(tx, userId, 'self');
    return issueTokens(tx, config, userId, meta);
  });
  dispatchSoon(jobs);
  logger.info('Password changed; other sessions revoked', { userId });
  return { tokens };
}

/** Self-service deactivation. The last active administrator may not lock everyone out. */
export async function deactivateAccount({ db, logger }: AuthDeps, userId: string) {
  await db.$transaction(async (tx) => {
    await assertAdminsRemain(tx, [userId]);
    await tx.user.update({ where: { id: userId }, data: { isActive: false } });
    await revokeUserSessions(tx, userId);
  });
  logger.info('Account deactivated by its owner', { userId });
}
