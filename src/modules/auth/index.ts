import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import type { DbClient } from '../../lib/db.js';
import { authRoutes } from './auth.routes.js';
import { deleteExpiredTokens } from './auth.sessions.js';

export function authModule(deps: ModuleDeps): ApiModule {
  return { name: 'auth', basePath: '/auth', tag: 'Auth', routes: authRoutes(deps) };
}

/**
 * The auth module's housekeeping (the `auth.cleanup` job): expired refresh tokens, also of users
 * who never sign in again, and email tokens a day after they expired.
 */
export async function deleteExpiredAccountData(db: DbClient, now: Date) {
  const refreshTokens = await deleteExpiredTokens(db, now);
  const { count: accountTokens } = await db.accountToken.deleteMany({ where: { expiresAt: { lt: new Date(now.getTime() - 86_400_000) } } });
  return { refreshTokens, accountTokens };
}

// The account primitives other modules (users) build on.
export {
  assertAdminsRemain,
  emailSchema,
  nameSchema,
  toUserView,
  userViewSchema,
  userWithCountSchema,
  USER_VIEW_SELECT,
  USER_VIEW_COLUMNS,
  USER_VIEW_WITH_COUNT_SELECT,
  type UserRow,
} from './auth.accounts.js';
export { hashPassword, passwordSchema } from './auth.passwords.js';
export { ENDS_ACCESS_TOKENS, revokeUserSessions } from './auth.sessions.js';
export { ACCOUNT_EVENTS, dispatchSoon, recordPasswordChanged, type PasswordChangedBy } from './auth.recovery.js';
export { accountTokenFor, issueAccountToken } from './auth.tokens.js';
