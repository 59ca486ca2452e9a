import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';

export function authModule(_deps: ModuleDeps): ApiModule {
  return { name: 'auth', basePath: '/auth', tag: 'Auth', routes: [] };
}
