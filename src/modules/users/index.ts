import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';

export function usersModule(_deps: ModuleDeps): ApiModule {
  return { name: 'users', basePath: '/users', tag: 'Users', routes: [] };
}
