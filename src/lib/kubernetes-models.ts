import { createRequire } from 'node:module';

/** Where kubernetes-models keeps the class of each kind minispod builds or the API double checks. */
const PATHS: Record<string, string> = {
  Deployment: 'apps/v1/Deployment', Ingress: 'networking.k8s.io/v1/Ingress', NetworkPolicy: 'networking.k8s.io/v1/NetworkPolicy', PodDisruptionBudget: 'policy/v1/PodDisruptionBudget',
  LimitRange: 'v1/LimitRange', Namespace: 'v1/Namespace', Node: 'v1/Node', PersistentVolumeClaim: 'v1/PersistentVolumeClaim', Pod: 'v1/Pod', ResourceQuota: 'v1/ResourceQuota',
  Secret: 'v1/Secret', Service: 'v1/Service',
};

const require = createRequire(import.meta.url);
const loaded = new Map<string, unknown>();

/**
 * The kubernetes-models class of `kind`, undefined for a kind not in PATHS. Its schema and
 * validator (a few MB each set) are required with the first use of the kind rather than at
 * start-up, which an API with no cluster never needs; required (the CommonJS build) so that
 * building and checking manifests stays synchronous.
 */
export function kubernetesModel(kind: string): unknown {
  const path = PATHS[kind];
  if (!path) return undefined;
  if (!loaded.has(kind)) loaded.set(kind, (require(`kubernetes-models/${path}`) as Record<string, unknown>)[kind]);
  return loaded.get(kind);
}
