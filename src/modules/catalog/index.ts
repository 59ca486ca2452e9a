import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import { catalogController } from './catalog.controller.js';
import { catalogRoutes } from './catalog.routes.js';

export function catalogModule(deps: ModuleDeps): ApiModule {
  return { name: 'catalog', basePath: '/services', tag: 'Services', routes: catalogRoutes(deps.guards, catalogController(deps)) };
}
