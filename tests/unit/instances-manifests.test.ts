import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/lib/errors/index.js';
import {
  BLOCKED_EGRESS_V4, buildManifests, hostOf, namespaceOf, newShortId, redactSecrets, type Manifest,
} from '../../src/modules/instances/instances.manifests.js';
import { validateManifests } from '../../src/modules/instances/instances.validation.js';
import { sampleConfig, sampleInstance, sampleService } from '../helpers/instance-inputs.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- assertions read deep into manifests
const find = (ms: Manifest[], kind: string, name?: string) => ms.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name)) as Obj;
const build = (service = sampleService(), config = sampleConfig(), overrides = {}) => buildManifests(sampleInstance(service, config, overrides), service, config);
const podSpec = (ms: Manifest[]) => find(ms, 'Deployment').spec.template.spec;

function validationFields(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('VALIDATION_ERROR');
    return ((err as AppError).errors ?? []).map((e) => e.field);
  }
  throw new Error('expected a VALIDATION_ERROR');
}

describe('instance naming', () => {
  it('makes 10-character [a-z0-9] short ids, namespaces msp-<shortId> and hosts <slug>-<shortId>.<domain>', () => {
    const ids = new Set(Array.from({ length: 500 }, newShortId));
    expect(ids.size).toBe(500);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]{10}$/);
    expect(namespaceOf('abc123xyz0')).toBe('msp-abc123xyz0');
    expect(hostOf('ghost', 'abc123xyz0', 'Apps.Example.com')).toBe('ghost-abc123xyz0.apps.example.com');
  });

  it('cuts a long slug so the host label stays within 63 characters', () => {
    const host = hostOf(`${'a'.repeat(50)}-${'b'.repeat(9)}`, 'abc123xyz0', 'apps.example.com');
    const label = host.split('.')[0] as string;
    expect(label.length).toBeLessThanOrEqual(63);
    expect(label).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(label.endsWith('-abc123xyz0')).toBe(true);
  });
});

describe('buildManifests: what an instance gets', () => {
  it('lists every object in apply order, all in the instance namespace', () => {
    const ms = build();
    expect(ms.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
      'Namespace/' + ms[0]?.metadata.name, 'ResourceQuota/quota', 'LimitRange/limits',
      'NetworkPolicy/default-deny', 'NetworkPolicy/allow-dns', 'NetworkPolicy/allow-ingress-controller', 'NetworkPolicy/allow-internet-egress',
      'Secret/app-env', 'PersistentVolumeClaim/data', 'Deployment/app', 'Service/app', 'Ingress/app',
    ]);
    const ns = ms[0]?.metadata.name;
    expect(ms.slice(1).every((m) => m.metadata.namespace === ns)).toBe(true);
  });

  it('gives each instance its own namespace, labelled with its ids and Pod Security levels', () => {
    const service = sampleService();
    const a = buildManifests(sampleInstance(service), service, sampleConfig());
    const instance = sampleInstance(service);
    const b = buildManifests(instance, service, sampleConfig());
    expect(a[0]?.metadata.name).not.toBe(b[0]?.metadata.name);
    expect(b[0]?.metadata).toEqual({
      name: `msp-${instance.shortId}`,
      labels: {
        'app.kubernetes.io/managed-by': 'minispod',
        'app.kubernetes.io/instance': instance.shortId,
        'minispod.io/instance-id': instance.id,
        'minispod.io/subscription-id': instance.subscriptionId,
        'minispod.io/user-id': instance.userId,
        'pod-security.kubernetes.io/enforce': 'baseline',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/warn': 'restricted',
        'pod-security.kubernetes.io/audit': 'restricted',
      },
    });
  });

  it('caps the namespace at the plan: quota and limit range from the plan, no node ports or load balancers', () => {
    const ms = build(sampleService({ cpuRequest: '500m', cpuLimit: '2', memRequest: '512Mi', memLimit: '1Gi', storage: '10Gi' }));
    expect(find(ms, 'ResourceQuota').spec.hard).toEqual({
      'requests.cpu': '500m', 'requests.memory': '512Mi', 'limits.cpu': '2', 'limits.memory': '1Gi',
      pods: '1', services: '1', 'services.loadbalancers': '0', 'services.nodeports': '0', persistentvolumeclaims: '1', 'requests.storage': '10Gi',
    });
    expect(find(ms, 'LimitRange').spec.limits).toEqual([
      { type: 'Container', default: { cpu: '2', memory: '1Gi' }, defaultRequest: { cpu: '500m', memory: '512Mi' }, max: { cpu: '2', memory: '1Gi' } },
      { type: 'PersistentVolumeClaim', max: { storage: '10Gi' } },
    ]);
    const c = podSpec(ms).containers[0];
    expect(c.resources).toEqual({ requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '2', memory: '1Gi' } });
    const noData = build(sampleService({ storage: null, dataMountPath: null }));
    expect(find(noData, 'ResourceQuota').spec.hard).toMatchObject({ persistentvolumeclaims: '0', 'requests.storage': '0' });
    expect(find(noData, 'PersistentVolumeClaim')).toBeUndefined();
    expect(podSpec(noData).volumes).toBeUndefined();
  });

  it('denies all traffic by default and opens only DNS, the ingress controller and the internet without private ranges', () => {
    const ms = build(undefined, sampleConfig({ ingressNamespace: 'traefik' }));
    const policy = (name: string) => find(ms, 'NetworkPolicy', name).spec;
    expect(policy('default-deny')).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    expect(policy('allow-dns').egress[0].ports).toEqual([{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }]);
    expect(policy('allow-ingress-controller')).toMatchObject({ policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'traefik' } } }], ports: [{ protocol: 'TCP', port: 2368 }] }] });
    const egress = policy('allow-internet-egress');
    expect(egress.policyTypes).toEqual(['Egress']);
    expect(egress.egress[0].to[0].ipBlock).toEqual({ cidr: '0.0.0.0/0', except: BLOCKED_EGRESS_V4 });
    expect(BLOCKED_EGRESS_V4).toEqual(expect.arrayContaining(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16']));
    expect(egress.egress[0].to[1].ipBlock.except).toEqual(expect.arrayContaining(['fc00::/7', 'fe80::/10']));
    // No policy admits traffic from other namespaces than the ingress controller's.
    const ingressRules = ms.filter((m) => m.kind === 'NetworkPolicy').flatMap((m) => (m as Obj).spec.ingress ?? []);
    expect(ingressRules).toHaveLength(1);
  });

  it('runs the pod without a service-account token, privilege escalation, host paths or host network', () => {
    const ms = build();
    const spec = podSpec(ms);
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.securityContext).toEqual({ seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, privileged: false, seccompProfile: { type: 'RuntimeDefault' } });
    for (const host of ['hostNetwork', 'hostPID', 'hostIPC']) expect(spec[host]).toBeUndefined();
    expect(JSON.stringify(ms)).not.toMatch(/hostPath|hostPort|hostNetwork|"privileged":true/);
    expect(spec.volumes).toEqual([{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }]);
    expect(spec.containers[0].volumeMounts).toEqual([{ name: 'data', mountPath: '/var/lib/ghost/content' }]);
  });

  it('builds the Deployment: Recreate, 1 replica or 0 when stopped, readiness probe, catalog scheduling, restart annotation', () => {
    const service = sampleService({ nodeSelector: { 'minispod.io/pool': 'apps' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'apps', effect: 'NoSchedule' }] });
    const d = find(build(service), 'Deployment');
    expect(d.spec).toMatchObject({ replicas: 1, strategy: { type: 'Recreate' }, progressDeadlineSeconds: 600 });
    expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
    expect(d.spec.template.spec.nodeSelector).toEqual({ 'minispod.io/pool': 'apps' });
    expect(d.spec.template.spec.tolerations).toEqual(service.tolerations);
    expect(d.spec.template.spec.containers[0].readinessProbe).toMatchObject({ httpGet: { path: '/ghost/api/admin/site/', port: 'http' } });
    expect(d.spec.template.metadata.annotations).toBeUndefined();
    const tcp = find(build(sampleService({ healthPath: null })), 'Deployment');
    expect(tcp.spec.template.spec.containers[0].readinessProbe).toMatchObject({ tcpSocket: { port: 'http' } });
    const stopped = find(build(undefined, undefined, { replicas: 0, restartedAt: new Date('2026-03-01T10:00:00Z') }), 'Deployment');
    expect(stopped.spec.replicas).toBe(0);
    expect(stopped.spec.template.metadata.annotations).toEqual({ 'minispod.io/restarted-at': '2026-03-01T10:00:00.000Z' });
  });

  it('puts the catalog environment and the credentials in the app-env Secret (base64), which the container reads', () => {
    const ms = build(sampleService({ environmentVars: { TZ: 'Asia/Jakarta', ADMIN_PASSWORD: 'from-catalog' } }), undefined, { credentials: { ADMIN_PASSWORD: 'generated' } });
    const data = find(ms, 'Secret').data as Record<string, string>;
    expect(Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))).toEqual({ TZ: 'Asia/Jakarta', ADMIN_PASSWORD: 'generated' });
    expect(podSpec(ms).containers[0].envFrom).toEqual([{ secretRef: { name: 'app-env' } }]);
  });

  it('exposes the app by a Service and an Ingress for the instance host with TLS, without controller-specific annotations', () => {
    const config = sampleConfig({ ingressClassName: 'traefik', tlsIssuer: 'letsencrypt', storageClassName: 'fast-ssd' });
    const instance = sampleInstance(sampleService(), config);
    const ms = buildManifests(instance, sampleService(), config);
    const ingress = find(ms, 'Ingress');
    expect(ingress.spec.ingressClassName).toBe('traefik');
    expect(ingress.spec.rules[0].host).toBe(instance.host);
    expect(ingress.spec.tls).toEqual([{ hosts: [instance.host], secretName: 'app-tls' }]);
    expect(ingress.metadata.annotations).toEqual({ 'cert-manager.io/cluster-issuer': 'letsencrypt' });
    expect(find(ms, 'Service').spec.selector).toEqual(find(ms, 'Deployment').spec.selector.matchLabels);
    expect(find(ms, 'PersistentVolumeClaim').spec.storageClassName).toBe('fast-ssd');
    expect(find(build(), 'Ingress').metadata.annotations).toBeUndefined();
  });
});

describe('buildManifests: refused inputs', () => {
  it('refuses a host that is not derived from the instance (user input, another instance, another domain)', () => {
    const service = sampleService();
    const instance = sampleInstance(service);
    for (const host of ['evil.example.com', `ghost-zzzzzzzzzz.apps.example.test`, `ghost-${instance.shortId}.other.test`, `x.ghost-${instance.shortId}.apps.example.test`]) {
      expect(validationFields(() => buildManifests({ ...instance, host }, service, sampleConfig()))).toEqual(['instance.host']);
    }
  });

  it('names every bad field at once: short id, quantities, request above limit, image, port, variables, node selector', () => {
    const service = sampleService({
      cpuRequest: '1 vCPU', memRequest: '2Gi', memLimit: '1Gi', dockerImage: 'bad image', containerPort: 70000,
      environmentVars: { 'not-valid': 'x' }, nodeSelector: { 'bad key!': 'v' }, dataMountPath: 'relative/path',
    });
    const fields = validationFields(() => buildManifests(sampleInstance(service, undefined, { shortId: 'UPPER' }), service, sampleConfig()));
    expect(fields).toEqual(expect.arrayContaining([
      'instance.shortId', 'instance.host', 'service.cpuRequest', 'service.memRequest', 'service.dockerImage', 'service.containerPort',
      'service.environmentVars.not-valid', 'service.nodeSelector.bad key!', 'service.dataMountPath',
    ]));
  });

  it('validates finished objects against the official schema and the rules it misses', () => {
    const ms = build();
    const broken = structuredClone(ms) as Obj[];
    find(broken as Manifest[], 'Deployment').spec.template.spec.containers[0].ports[0].containerPort = 'http';
    find(broken as Manifest[], 'Service').metadata.name = 'Not_A_Name';
    find(broken as Manifest[], 'Deployment').spec.selector.matchLabels = { other: 'x' };
    const fields = validationFields(() => validateManifests(broken as Manifest[]));
    expect(fields).toEqual(expect.arrayContaining(['Deployment/app spec.template.spec.containers.0.ports.0.containerPort', 'Service/Not_A_Name metadata.name', 'Deployment/app spec.selector']));
    expect(() => validateManifests(ms)).not.toThrow();
  });
});

describe('redactSecrets', () => {
  it('replaces Secret values and leaves everything else (and the input) as it was', () => {
    const ms = build();
    const redacted = redactSecrets(ms);
    expect(find(redacted, 'Secret').data).toEqual({ TZ: '(redacted)', ADMIN_PASSWORD: '(redacted)' });
    expect(find(ms, 'Secret').data.TZ).toBe(Buffer.from('Asia/Jakarta').toString('base64'));
    expect(redacted.filter((m) => m.kind !== 'Secret')).toEqual(ms.filter((m) => m.kind !== 'Secret'));
  });
});
