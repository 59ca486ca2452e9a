import { hostOf, newShortId, type InstanceInput, type ManifestConfig, type ServiceInput } from '../../src/modules/instances/instances.manifests.js';

/** Inputs of the manifest functions, as the instances module will map them from its rows. */
export const sampleConfig = (overrides: Partial<ManifestConfig> = {}): ManifestConfig => ({
  appsDomain: 'apps.example.test',
  ingressClassName: 'nginx',
  ingressNamespace: 'ingress-nginx',
  ...overrides,
});

export const sampleService = (overrides: Partial<ServiceInput> = {}): ServiceInput => ({
  slug: 'ghost',
  dockerImage: 'ghost:5-alpine',
  containerPort: 2368,
  cpuRequest: '250m',
  cpuLimit: '1',
  memRequest: '256Mi',
  memLimit: '512Mi',
  storage: '5Gi',
  dataMountPath: '/var/lib/ghost/content',
  healthPath: '/ghost/api/admin/site/',
  environmentVars: { TZ: 'Asia/Jakarta' },
  nodeSelector: {},
  tolerations: [],
  ...overrides,
});

let counter = 0;
export function sampleInstance(service: Pick<ServiceInput, 'slug'> = sampleService(), config: ManifestConfig = sampleConfig(), overrides: Partial<InstanceInput> = {}): InstanceInput {
  const shortId = overrides.shortId ?? newShortId();
  counter += 1;
  return {
    id: `cinstance${counter}${shortId}`,
    shortId,
    subscriptionId: `csub${counter}${shortId}`,
    userId: 'cuser0000000000000000001',
    host: hostOf(service.slug, shortId, config.appsDomain),
    replicas: 1,
    credentials: { ADMIN_PASSWORD: `pw-${shortId}` },
    ...overrides,
  };
}
