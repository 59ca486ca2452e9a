import type { ApiModule } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import { subscriptionsRoutes } from './subscriptions.routes.js';
import type { InstanceHook, SubscriptionsDeps } from './subscriptions.service.js';

/** Until the instances module carries them out, instance effects only wait in the rows (instances stay PENDING). */
export const noInstanceEffects: InstanceHook = () => undefined;

export const subscriptionsDeps = (deps: Pick<ModuleDeps, 'db' | 'config' | 'logger' | 'jobs'>, instances: InstanceHook = noInstanceEffects): SubscriptionsDeps => ({
  db: deps.db,
  config: deps.config,
  logger: deps.logger,
  jobs: deps.jobs,
  instances,
});

export function subscriptionsModule(deps: ModuleDeps): ApiModule {
  return { name: 'subscriptions', basePath: '/', tag: 'Subscriptions', routes: subscriptionsRoutes(deps, subscriptionsDeps(deps, deps.instanceEffects)) };
}

export { runDunning, runExpiry, runRenewalNotices, runRenewals } from './subscriptions.billing.js';
export { cancelPendingWithRefund, type SubscriptionsDeps } from './subscriptions.service.js';
export { subscribe } from './subscriptions.subscribe.js';
export { transition, TRANSITIONS, type InstanceEffect } from './subscriptions.transitions.js';
export { nextPeriodEnd, prorate } from './subscriptions.periods.js';
