import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import { authRoutes } from './auth.routes.js';

export function authModule(deps: ModuleDeps): ApiModule {
  return { name: 'auth', basePath: '/auth', tag: 'Auth', routes: authRoutes(deps) };
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
} from './auth.accounts.js';
export { hashPassword, passwordSchema } from './auth.passwords.js';
export { revokeUserSessions } from './auth.sessions.js';
