import { createRequire } from 'node:module';
import type { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import type { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { LimitRange } from 'kubernetes-models/v1/LimitRange';
import type { Namespace } from 'kubernetes-models/v1/Namespace';
import type { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { ResourceQuota } from 'kubernetes-models/v1/ResourceQuota';
import type { Secret } from 'kubernetes-models/v1/Secret';
import type { Service } from 'kubernetes-models/v1/Service';

export interface Models {
  Deployment: typeof Deployment;
  Ingress: typeof Ingress;
  NetworkPolicy: typeof NetworkPolicy;
  LimitRange: typeof LimitRange;
  Namespace: typeof Namespace;
  PersistentVolumeClaim: typeof PersistentVolumeClaim;
  ResourceQuota: typeof ResourceQuota;
  Secret: typeof Secret;
  Service: typeof Service;
}

const PATHS: Record<keyof Models, string> = {
  Deployment: 'apps/v1/Deployment', Ingress: 'networking.k8s.io/v1/Ingress', NetworkPolicy: 'networking.k8s.io/v1/NetworkPolicy', LimitRange: 'v1/LimitRange',
  Namespace: 'v1/Namespace', PersistentVolumeClaim: 'v1/PersistentVolumeClaim', ResourceQuota: 'v1/ResourceQuota', Secret: 'v1/Secret', Service: 'v1/Service',
};

let loaded: Models | undefined;

/**
 * The kubernetes-models classes manifests are built and checked with. Their schemas and validators
 * (about 6 MB of memory) are required with the first manifest rather than at start-up, which an
 * API with no cluster or no instance to apply never needs; required (their CommonJS build) so that
 * building manifests stays synchronous.
 */
export function models(): Models {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    loaded = Object.fromEntries(Object.entries(PATHS).map(([kind, path]) => [kind, (require(`kubernetes-models/${path}`) as Record<string, unknown>)[kind]])) as unknown as Models;
  }
  return loaded;
}
