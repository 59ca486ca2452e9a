import type { Config } from '../../lib/config.js';
import type { Db } from '../../lib/db.js';
import { AppError, fieldError, forbidden, notFound } from '../../lib/errors/index.js';
import { recordEvent } from '../../lib/events.js';
import { newId } from '../../lib/ids.js';
import type { JobQueue } from '../../lib/jobs.js';
import type { Logger } from '../../lib/logger.js';
import type { Sql } from '../../lib/sql.js';
import { toUserView, USER_VIEW_SELECT, USER_VIEW_WITH_COUNT_SELECT } from './auth.accounts.js';
import { hashPassword, needsRehash, verifyPassword } from './auth.passwords.js';
import { ACCOUNT_EVENTS, dispatchSoon, recordPasswordChanged } from './auth.recovery.js';
import { ENDS_ACCESS_TOKENS, issueTokens, revokeByToken, revokeUserSessions, rotateRefreshToken, signIn, unboundTokens, type ClientMeta } from './auth.sessions.js';

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

/** Ids of publicly registered users, made here so the answer for a taken email can carry one too. */
const newUserId = newId;

const isUniqueViolation = (err: unknown) => (err as { code?: unknown } | null)?.code === 'P2002';

/**
 * Public registration. A taken email gets the same answer as a new one (201, the same fields, the
 * same work: one bcrypt hash, one insert that the unique index settles, one event), so the
 * answer cannot tell a stranger who has an account; the owner is emailed instead. That answer
 * grants nothing: its user does not exist and its tokens belong to no session (unboundTokens).
 * The unique index also settles concurrent registrations of one new address: one account.
 */
export async function register(deps: AuthDeps, input: { name: string; email: string; password: string }, meta: ClientMeta) {
  const password = await hashPassword(input.password, deps.config.bcryptCost);
  const id = newUserId();
  let session;
  try {
    session = await deps.db.$transaction(async (tx) => {
      const user = await tx.user.create({ data: { id, name: input.name, email: input.email, password, role: 'USER' }, select: { ...USER_VIEW_SELECT, tokenVersion: true } });
      const tokens = await issueTokens(tx, deps.config, user, meta);
      // The verification email is derived from this event.
      await recordEvent(tx, { type: ACCOUNT_EVENTS.registered, userId: user.id, subjectType: 'user', subjectId: user.id });
      return { user: toUserView(user), tokens };
    });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    // The dispatcher finds the owner by the address, as for a password reset.
    await recordEvent(deps.db, { type: ACCOUNT_EVENTS.registrationAttempted, subjectType: 'email', subjectId: input.email, data: { email: input.email } });
    const now = new Date();
    const user = { id, name: input.name, email: input.email, role: 'USER' as const, isActive: true, lastLoginAt: null, emailVerifiedAt: null, createdAt: now, updatedAt: now };
    session = { user: toUserView(user), tokens: unboundTokens(deps.config, id) };
  }
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
  const session = await signIn(sql, config, user.id, meta, { rehash, checkedHash: user.password });
  // Deactivated, deleted or given another password while the password was being checked.
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

const wrongPassword = () => fieldError('currentPassword', 'Current password is incorrect');

/**
 * A new email is unverified until its owner follows the link sent to it. Changing the email
 * takes the current password (whoever holds a stolen access token must not be able to move the
 * account, and its password resets, to an address of their own); a password sent along with a
 * name change alone is checked too.
 */
export async function updateProfile({ db, jobs }: AuthDeps, userId: string, input: { name?: string; email?: string; currentPassword?: string }) {
  const { currentPassword, ...changes } = input;
  const current = await db.user.findUnique({ where: { id: userId }, select: { email: true, password: true } });
  if (!current) throw notFound('user', userId);
  if (changes.email !== undefined && changes.email !== current.email && currentPassword === undefined) {
    throw fieldError('currentPassword', 'The current password is required to change the email address');
  }
  if (currentPassword !== undefined && !(await verifyPassword(currentPassword, current.password))) throw wrongPassword();
  const { user, emailChanged } = await db.$transaction(async (tx) => {
    const before = await tx.user.findUnique({ where: { id: userId }, select: { email: true, password: true } });
    if (!before) throw notFound('user', userId);
    const emailChanged = changes.email !== undefined && changes.email !== before.email;
    // The password was checked against `current`: a password changed since does not count.
    if (emailChanged && before.password !== current.password) throw wrongPassword();
    const user = await tx.user.update({ where: { id: userId }, data: { ...changes, ...(emailChanged ? { emailVerifiedAt: null } : {}) }, select: USER_VIEW_WITH_COUNT_SELECT });
    if (emailChanged) await recordEvent(tx, { type: ACCOUNT_EVENTS.emailChanged, userId, subjectType: 'user', subjectId: userId });
    return { user, emailChanged };
  });
  if (emailChanged) dispatchSoon(jobs);
  return toUserView(user);
}

/**
 * Changes the password after checking the current one, ends every existing session (refresh
 * tokens revoked, access tokens by the new token version) and opens a new one, so the caller
 * stays signed in and every other device must log in again.
 */
export async function changePassword({ db, config, logger, jobs }: AuthDeps, userId: string, input: { currentPassword: string; newPassword: string }, meta: ClientMeta) {
  const user = await db.user.findUniqueOrThrow({ where: { id: userId }, select: { password: true } });
  if (!(await verifyPassword(input.currentPassword, user.password))) throw wrongPassword();
  const password = await hashPassword(input.newPassword, config.bcryptCost);
  const tokens = await db.$transaction(async (tx) => {
    // Conditional on the hash that was checked: of concurrent changes only the first applies, and
    // the others fail as their current password no longer matches (the row lock orders them).
    const changed = await tx.user.updateMany({ where: { id: userId, password: user.password }, data: { password, ...ENDS_ACCESS_TOKENS } });
    if (changed.count !== 1) throw wrongPassword();
    const { tokenVersion } = await tx.user.findUniqueOrThrow({ where: { id: userId }, select: { tokenVersion: true } });
    await revokeUserSessions(tx, userId);
    await recordPasswordChanged(tx, userId, 'self');
    return issueTokens(tx, config, { id: userId, tokenVersion }, meta);
  });
  dispatchSoon(jobs);
  logger.info('Password changed; other sessions revoked', { userId });
  return { tokens };
}

/**
 * Self-service deactivation, for users only: administrators cannot deactivate themselves by any
 * route (another administrator can). One conditional UPDATE, so a promotion that commits first is
 * seen and one that comes later waits.
 */
export async function deactivateAccount({ db, logger }: AuthDeps, userId: string) {
  await db.$transaction(async (tx) => {
    const done = await tx.user.updateMany({ where: { id: userId, role: 'USER' }, data: { isActive: false, ...ENDS_ACCESS_TOKENS } });
    if (done.count !== 1) {
      if (await tx.user.count({ where: { id: userId } })) throw forbidden('Administrators cannot deactivate their own account; another administrator can');
      throw notFound('user', userId);
    }
    await revokeUserSessions(tx, userId);
  });
  logger.info('Account deactivated by its owner', { userId });
}
