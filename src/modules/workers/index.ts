import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import { workersRoutes } from './workers.routes.js';
import type { BackgroundJobs } from '../../lib/periodic.js';
import { startSweeper } from './workers.sweeper.js';

export function workersModule(deps: ModuleDeps): ApiModule {
  return {
    name: 'workers',
    basePath: '/workers',
    tag: 'Workers',
    routes: workersRoutes(deps),
    // Agent reports are authenticated per node and arrive from many nodes behind one address (NAT):
    // a per-IP limit would cut a healthy cluster off.
    rateLimitExempt: [/^\/workers\/[^/]+\/(heartbeat|resources)\/?$/],
  };
}

/** Background loops of the workers module: the liveness sweeper. */
export function startBackgroundJobs(deps: Pick<ModuleDeps, 'db' | 'config' | 'logger'>): BackgroundJobs {
  return startSweeper(deps);
}

// Kubernetes label and taint syntax, which the catalog's nodeSelector and tolerations share.
export { labelKey, labelsSchema, labelValue, TAINT_EFFECTS } from './workers.schemas.js';
export { newAgentToken } from './workers.agent-auth.js';
