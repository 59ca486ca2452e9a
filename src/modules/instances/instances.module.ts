import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import { instancesRoutes } from './instances.routes.js';

export function instancesModule(deps: ModuleDeps): ApiModule {
  const d = { db: deps.db, config: deps.config, logger: deps.logger, jobs: deps.jobs, cluster: deps.cluster };
  return { name: 'instances', basePath: '/', tag: 'Instances', routes: instancesRoutes(deps, d) };
}
