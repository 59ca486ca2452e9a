import { randomInt } from 'node:crypto';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IToleration } from 'kubernetes-models/v1/Toleration';
import { models } from './instances.models.js';
import { checkInputs, validateManifests } from './instances.validation.js';

/** What the manifests need of an instance (the ServiceInstance row maps onto it). */
export interface InstanceInput {
  id: string;
  /** 10 characters [a-z0-9], unique: names the namespace and the host. */
  shortId: string;
  subscriptionId: string;
  userId: string;
  /** `<slug>-<shortId>.<appsDomain>` (hostOf), fixed when the instance is created. */
  host: string;
  /** 1, or 0 while stopped (data kept). */
  replicas: 0 | 1;
  /** Set by a restart: a new value rolls the pods. */
  restartedAt?: Date | string | null;
  /** Generated app credentials (plain text): environment variables of the app, in the Secret. */
  credentials: Record<string, string>;
}

/** What the manifests need of a catalog service (the plan). */
export interface ServiceInput {
  slug: string;
  dockerImage: string;
  containerPort: number;
  cpuRequest: string;
  cpuLimit: string;
  memRequest: string;
  memLimit: string;
  storage?: string | null;
  dataMountPath?: string | null;
  healthPath?: string | null;
  environmentVars: Record<string, string>;
  nodeSelector: Record<string, string>;
  tolerations: IToleration[];
}

export interface ManifestConfig {
  appsDomain: string;
  ingressClassName: string;
  /** Namespace of the ingress controller: the only source of traffic into an instance. */
  ingressNamespace: string;
  storageClassName?: string | null;
  /** A cert-manager ClusterIssuer: when set, the Ingress asks it for the host's certificate. */
  tlsIssuer?: string | null;
  /** Deployment.spec.progressDeadlineSeconds (default 600). */
  progressDeadlineSeconds?: number;
}

/** A plain Kubernetes object as sent to the API server (and shown by the preview endpoint). */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export const FIELD_MANAGER = 'minispod';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'minispod' } as const;
export const LABELS = {
  instanceId: 'minispod.io/instance-id',
  subscriptionId: 'minispod.io/subscription-id',
  userId: 'minispod.io/user-id',
} as const;
export const RESTARTED_AT_ANNOTATION = 'minispod.io/restarted-at';
export const APP_NAME = 'app';
export const ENV_SECRET = 'app-env';
export const DATA_CLAIM = 'data';

const SHORT_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const MAX_HOST_LABEL = 63;
/** Ranges an app may not reach: RFC 1918, CGNAT (often the cluster's own), loopback, link-local (cloud metadata). */
export const BLOCKED_EGRESS_V4 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16'];
export const BLOCKED_EGRESS_V6 = ['fc00::/7', 'fe80::/10', '::1/128'];

export const newShortId = () => Array.from({ length: 10 }, () => SHORT_ID_ALPHABET[randomInt(SHORT_ID_ALPHABET.length)]).join('');
export const namespaceOf = (shortId: string) => `msp-${shortId}`;

/** `<slug>-<shortId>.<appsDomain>`; a long slug is cut so the first label stays within 63 characters. */
export function hostOf(slug: string, shortId: string, appsDomain: string): string {
  const room = MAX_HOST_LABEL - shortId.length - 1;
  const head = slug.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, room).replace(/^-+|-+$/g, '');
  return `${head ? `${head}-` : ''}${shortId}.${appsDomain.toLowerCase()}`;
}

const plain = (model: { toJSON(): unknown }): Manifest => JSON.parse(JSON.stringify(model.toJSON())) as Manifest;
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/**
 * Every object of an instance, in apply order (namespace and its guards first, the workload last),
 * validated against the official schemas and the checks they miss. Throws VALIDATION_ERROR before
 * anything could reach a cluster.
 */
export function buildManifests(instance: InstanceInput, service: ServiceInput, config: ManifestConfig): Manifest[] {
  checkInputs(instance, service, config);
  const { Deployment, Ingress, LimitRange, Namespace, PersistentVolumeClaim, ResourceQuota, Secret, Service } = models();
  const namespace = namespaceOf(instance.shortId);
  const common = { ...MANAGED_BY, 'app.kubernetes.io/instance': instance.shortId, [LABELS.instanceId]: instance.id };
  const selector = { 'app.kubernetes.io/instance': instance.shortId, 'app.kubernetes.io/component': APP_NAME };
  const podLabels = { ...common, ...selector, 'app.kubernetes.io/name': service.slug.slice(0, 63).replace(/-+$/, '') };
  const meta = (name: string) => ({ name, namespace, labels: { ...common } });
  const requests = { cpu: service.cpuRequest, memory: service.memRequest };
  const limits = { cpu: service.cpuLimit, memory: service.memLimit };
  const withData = Boolean(service.dataMountPath);

  const objects: Manifest[] = [
    plain(new Namespace({
      metadata: {
        name: namespace,
        labels: {
          ...common,
          [LABELS.subscriptionId]: instance.subscriptionId,
          [LABELS.userId]: instance.userId,
          'pod-security.kubernetes.io/enforce': 'baseline',
          'pod-security.kubernetes.io/enforce-version': 'latest',
          'pod-security.kubernetes.io/warn': 'restricted',
          'pod-security.kubernetes.io/audit': 'restricted',
        },
      },
    })),
    plain(new ResourceQuota({
      metadata: meta('quota'),
      spec: {
        hard: {
          'requests.cpu': service.cpuRequest, 'requests.memory': service.memRequest, 'limits.cpu': service.cpuLimit, 'limits.memory': service.memLimit,
          pods: '1', services: '1', 'services.loadbalancers': '0', 'services.nodeports': '0',
          persistentvolumeclaims: withData ? '1' : '0', 'requests.storage': withData ? String(service.storage) : '0',
        },
      },
    })),
    plain(new LimitRange({
      metadata: meta('limits'),
      spec: {
        limits: [
          { type: 'Container', default: limits, defaultRequest: requests, max: limits },
          ...(withData ? [{ type: 'PersistentVolumeClaim', max: { storage: String(service.storage) } }] : []),
        ],
      },
    })),
    ...networkPolicies(meta, config, service.containerPort),
    plain(new Secret({ metadata: meta(ENV_SECRET), type: 'Opaque', data: secretData(service.environmentVars, instance.credentials) })),
    ...(withData
      ? [plain(new PersistentVolumeClaim({
          metadata: meta(DATA_CLAIM),
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: String(service.storage) } }, ...(config.storageClassName ? { storageClassName: config.storageClassName } : {}) },
        }))]
      : []),
    plain(new Deployment({
      metadata: meta(APP_NAME),
      spec: {
        replicas: instance.replicas,
        strategy: { type: 'Recreate' },
        revisionHistoryLimit: 2,
        progressDeadlineSeconds: config.progressDeadlineSeconds ?? 600,
        selector: { matchLabels: selector },
        template: {
          metadata: { labels: podLabels, ...(instance.restartedAt ? { annotations: { [RESTARTED_AT_ANNOTATION]: new Date(instance.restartedAt).toISOString() } } : {}) },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
            containers: [container(service, requests, limits)],
            ...(withData ? { volumes: [{ name: DATA_CLAIM, persistentVolumeClaim: { claimName: DATA_CLAIM } }] } : {}),
            ...(Object.keys(service.nodeSelector).length > 0 ? { nodeSelector: { ...service.nodeSelector } } : {}),
            ...(service.tolerations.length > 0 ? { tolerations: service.tolerations.map((t) => ({ ...t })) } : {}),
          },
        },
      },
    })),
    plain(new Service({
      metadata: meta(APP_NAME),
      spec: { type: 'ClusterIP', selector, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
    })),
    plain(new Ingress({
      metadata: { ...meta(APP_NAME), ...(config.tlsIssuer ? { annotations: { 'cert-manager.io/cluster-issuer': config.tlsIssuer } } : {}) },
      spec: {
        ingressClassName: config.ingressClassName,
        tls: [{ hosts: [instance.host], secretName: 'app-tls' }],
        rules: [{ host: instance.host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: APP_NAME, port: { name: 'http' } } } }] } }],
      },
    })),
  ];
  validateManifests(objects);
  return objects;
}

function container(service: ServiceInput, requests: Record<string, string>, limits: Record<string, string>): IContainer {
  const probe = service.healthPath ? { httpGet: { path: service.healthPath, port: 'http' } } : { tcpSocket: { port: 'http' } };
  return {
    name: APP_NAME,
    image: service.dockerImage,
    ports: [{ name: 'http', containerPort: service.containerPort, protocol: 'TCP' }],
    envFrom: [{ secretRef: { name: ENV_SECRET } }],
    resources: { requests, limits },
    readinessProbe: { ...probe, initialDelaySeconds: 2, periodSeconds: 5, failureThreshold: 3 },
    securityContext: { allowPrivilegeEscalation: false, privileged: false, seccompProfile: { type: 'RuntimeDefault' } },
    ...(service.dataMountPath ? { volumeMounts: [{ name: DATA_CLAIM, mountPath: service.dataMountPath }] } : {}),
  };
}

/** Catalog environment first, generated credentials over it (a credential wins a name clash). */
function secretData(env: Record<string, string>, credentials: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries({ ...env, ...credentials }).map(([k, v]) => [k, b64(v)]));
}

function networkPolicies(meta: (name: string) => { name: string; namespace: string; labels: Record<string, string> }, config: ManifestConfig, port: number): Manifest[] {
  const all = {};
  const { NetworkPolicy } = models();
  return [
    plain(new NetworkPolicy({ metadata: meta('default-deny'), spec: { podSelector: all, policyTypes: ['Ingress', 'Egress'] } })),
    plain(new NetworkPolicy({
      metadata: meta('allow-dns'),
      spec: {
        podSelector: all,
        policyTypes: ['Egress'],
        egress: [{
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
          ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
        }],
      },
    })),
    plain(new NetworkPolicy({
      metadata: meta('allow-ingress-controller'),
      spec: {
        podSelector: all,
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': config.ingressNamespace } } }], ports: [{ protocol: 'TCP', port }] }],
      },
    })),
    plain(new NetworkPolicy({
      metadata: meta('allow-internet-egress'),
      spec: {
        podSelector: all,
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: BLOCKED_EGRESS_V4 } }, { ipBlock: { cidr: '::/0', except: BLOCKED_EGRESS_V6 } }] }],
      },
    })),
  ];
}

/** The manifests with every Secret value replaced, for the preview endpoint. */
export function redactSecrets(manifests: Manifest[]): Manifest[] {
  return manifests.map((m) => {
    if (m.kind !== 'Secret') return m;
    const redact = (values: unknown) => Object.fromEntries(Object.keys((values ?? {}) as Record<string, unknown>).map((k) => [k, '(redacted)']));
    return { ...m, ...(m.data ? { data: redact(m.data) } : {}), ...(m.stringData ? { stringData: redact(m.stringData) } : {}) };
  });
}
