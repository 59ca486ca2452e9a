import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import { usersRoutes } from './users.routes.js';

export function usersModule(deps: ModuleDeps): ApiModule {
  return { name: 'users', basePath: '/users', tag: 'Users', routes: usersRoutes(deps) };
}
