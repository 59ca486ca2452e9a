import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';

export function catalogModule(_deps: ModuleDeps): ApiModule {
  return { name: 'catalog', basePath: '/services', tag: 'Services', routes: [] };
}
