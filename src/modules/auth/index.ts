import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import { startPeriodic, type BackgroundJobs } from '../../lib/periodic.js';
import { authRoutes } from './auth.routes.js';
import { deleteExpiredTokens } from './auth.sessions.js';

export function authModule(deps: ModuleDeps): ApiModule {
  return { name: 'auth', basePath: '/auth', tag: 'Auth', routes: authRoutes(deps) };
}

/** Background loop of the auth module: expired refresh tokens are deleted, also for users who never sign in again. */
export function startTokenCleanup({ db, config, logger }: Pick<ModuleDeps, 'db' | 'config' | 'logger'>): BackgroundJobs {
  return startPeriodic({
    name: 'refresh token cleanup',
    intervalSeconds: config.tokenCleanupIntervalSeconds,
    logger,
    run: async () => {
      const deleted = await deleteExpiredTokens(db, new Date());
      if (deleted > 0) logger.info(`Token cleanup: ${deleted} expired refresh token(s) deleted`);
    },
  });
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
  USER_VIEW_WITH_COUNT_SELECT,
  type UserRow,
} from './auth.accounts.js';
export { hashPassword, passwordSchema } from './auth.passwords.js';
export { revokeUserSessions } from './auth.sessions.js';
