import { kubernetesModel } from '../../lib/kubernetes-models.js';
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

const KINDS: (keyof Models)[] = ['Deployment', 'Ingress', 'NetworkPolicy', 'LimitRange', 'Namespace', 'PersistentVolumeClaim', 'ResourceQuota', 'Secret', 'Service'];

let loaded: Models | undefined;

/** The kubernetes-models classes manifests are built and checked with, required with the first manifest (kubernetesModel). */
export function models(): Models {
  loaded ??= Object.fromEntries(KINDS.map((kind) => [kind, kubernetesModel(kind)])) as unknown as Models;
  return loaded;
}
