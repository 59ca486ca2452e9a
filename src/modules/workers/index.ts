import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';

export function workersModule(_deps: ModuleDeps): ApiModule {
  return { name: 'workers', basePath: '/workers', tag: 'Workers', routes: [] };
}

/** Background loops of the workers module (the liveness sweeper); filled by the workers module. */
export function startBackgroundJobs(_deps: Pick<ModuleDeps, 'db' | 'config' | 'logger'>): { stop: () => Promise<void> } {
  return { stop: async () => undefined };
}
