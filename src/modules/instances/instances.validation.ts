import { AppError, type FieldError } from '../../lib/errors/index.js';
import { parseBytes, parseCpu } from '../catalog/quantities.js';
import { models } from './instances.models.js';
import type { InstanceInput, ManifestConfig, Manifest, ServiceInput } from './instances.manifests.js';

/**
 * The checks between the pure manifest functions and the cluster: inputs first (so a message names
 * the catalog field, not a manifest path), then every object against the official schema
 * (kubernetes-models) and the rules the schema cannot express, which the API server would refuse
 * with 422 after some objects were already applied.
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const K8S_QUANTITY = /^\d+(\.\d+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const SHORT_ID = /^[a-z0-9]{10}$/;
const IMAGE = /^[a-z0-9][a-z0-9._\-/:@]*$/i;

type Model = new (data: never) => { validate(): void };

function labelKeyValid(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const [prefix, name] = slash >= 0 ? [key.slice(0, slash), key.slice(slash + 1)] : [undefined, key];
  return (prefix === undefined || DNS_SUBDOMAIN.test(prefix)) && LABEL_NAME.test(name);
}

function fail(message: string, errors: FieldError[]): never {
  throw new AppError('VALIDATION_ERROR', message, { errors });
}

function quantityIssues(service: ServiceInput): FieldError[] {
  const issues: FieldError[] = [];
  const read = (field: keyof ServiceInput, kind: 'cpu' | 'memory' | 'storage') => {
    const text = String(service[field] ?? '');
    const parsed = kind === 'cpu' ? parseCpu(text) : parseBytes(kind, text);
    if (!parsed.ok) issues.push({ field, message: parsed.message });
    else if (!K8S_QUANTITY.test(text)) issues.push({ field, message: `'${text}' is not in Kubernetes quantity form (e.g. '${parsed.quantity}')` });
    return parsed.ok ? parsed.amount : undefined;
  };
  const [cpuReq, cpuLim, memReq, memLim] = [read('cpuRequest', 'cpu'), read('cpuLimit', 'cpu'), read('memRequest', 'memory'), read('memLimit', 'memory')];
  if (cpuReq !== undefined && cpuLim !== undefined && cpuReq > cpuLim) issues.push({ field: 'cpuRequest', message: 'The CPU request exceeds the CPU limit' });
  if (memReq !== undefined && memLim !== undefined && memReq > memLim) issues.push({ field: 'memRequest', message: 'The memory request exceeds the memory limit' });
  if (service.storage) read('storage', 'storage');
  return issues;
}

/** Inputs the manifests are built from; throws VALIDATION_ERROR naming every bad field at once. */
export function checkInputs(instance: InstanceInput, service: ServiceInput, config: ManifestConfig): void {
  const issues: FieldError[] = [];
  const check = (ok: boolean, field: string, message: string) => {
    if (!ok) issues.push({ field, message });
  };
  check(SHORT_ID.test(instance.shortId), 'instance.shortId', 'Must be 10 characters a-z and 0-9');
  for (const f of ['id', 'subscriptionId', 'userId'] as const) check(LABEL_VALUE.test(instance[f]) && instance[f].length > 0, `instance.${f}`, 'Must be usable as a label value (at most 63 letters, digits, - _ .)');
  const domain = config.appsDomain.toLowerCase();
  const firstLabel = instance.host.split('.')[0] ?? '';
  check(
    DNS_SUBDOMAIN.test(instance.host) && instance.host === `${firstLabel}.${domain}` && DNS_LABEL.test(firstLabel) && (firstLabel === instance.shortId || firstLabel.endsWith(`-${instance.shortId}`)),
    'instance.host',
    `Must be <slug>-${instance.shortId}.${domain}, derived from the instance`,
  );
  check(instance.replicas === 0 || instance.replicas === 1, 'instance.replicas', 'Must be 0 or 1');
  check(instance.restartedAt == null || !Number.isNaN(new Date(instance.restartedAt).getTime()), 'instance.restartedAt', 'Must be a date');
  for (const key of Object.keys(instance.credentials)) check(ENV_NAME.test(key), `instance.credentials.${key}`, 'Must be an environment variable name');
  check(service.slug.length > 0, 'service.slug', 'Required');
  check(IMAGE.test(service.dockerImage) && service.dockerImage.length <= 255, 'service.dockerImage', 'Must be an image reference');
  check(Number.isInteger(service.containerPort) && service.containerPort >= 1 && service.containerPort <= 65535, 'service.containerPort', 'Must be a port number (1-65535)');
  issues.push(...quantityIssues(service).map((i) => ({ ...i, field: `service.${i.field}` })));
  check(!service.dataMountPath || (service.dataMountPath.startsWith('/') && !service.dataMountPath.split('/').includes('..')), 'service.dataMountPath', 'Must be an absolute path');
  check(!service.dataMountPath || Boolean(service.storage), 'service.storage', 'A service with a data path needs a storage size');
  check(!service.healthPath || /^\/[\x21-\x7e]*$/.test(service.healthPath), 'service.healthPath', 'Must be an HTTP path starting with /');
  for (const key of Object.keys(service.environmentVars)) check(ENV_NAME.test(key), `service.environmentVars.${key}`, 'Must be an environment variable name');
  for (const [key, value] of Object.entries(service.nodeSelector)) check(labelKeyValid(key) && LABEL_VALUE.test(value), `service.nodeSelector.${key}`, 'Must be a label key and value');
  service.tolerations.forEach((t, i) => check(!(t.operator === 'Exists' && t.value), `service.tolerations[${i}]`, 'operator Exists takes no value'));
  check(DNS_SUBDOMAIN.test(domain), 'config.appsDomain', 'Must be a DNS domain');
  check(DNS_SUBDOMAIN.test(config.ingressClassName), 'config.ingressClassName', 'Must be an IngressClass name');
  check(DNS_LABEL.test(config.ingressNamespace), 'config.ingressNamespace', 'Must be a namespace name');
  check(!config.storageClassName || DNS_SUBDOMAIN.test(config.storageClassName), 'config.storageClassName', 'Must be a StorageClass name');
  check(!config.tlsIssuer || DNS_SUBDOMAIN.test(config.tlsIssuer), 'config.tlsIssuer', 'Must be a ClusterIssuer name');
  check(config.progressDeadlineSeconds === undefined || (Number.isInteger(config.progressDeadlineSeconds) && config.progressDeadlineSeconds > 0), 'config.progressDeadlineSeconds', 'Must be a positive whole number');
  if (issues.length > 0) fail('The instance cannot be turned into valid Kubernetes objects', issues);
}

const where = (m: Manifest, path = '') => `${m.kind}/${m.metadata?.name ?? '?'}${path ? ` ${path}` : ''}`;

function extraIssues(m: Manifest): FieldError[] {
  const issues: FieldError[] = [];
  const name = m.metadata?.name ?? '';
  const labelOnly = m.kind === 'Namespace' || m.kind === 'Service';
  if (!(labelOnly ? DNS_LABEL : DNS_SUBDOMAIN).test(name)) issues.push({ field: where(m, 'metadata.name'), message: `Not a DNS-1123 ${labelOnly ? 'label' : 'subdomain'}` });
  if (m.metadata.namespace !== undefined && !DNS_LABEL.test(m.metadata.namespace)) issues.push({ field: where(m, 'metadata.namespace'), message: 'Not a DNS-1123 label' });
  for (const [k, v] of Object.entries(m.metadata.labels ?? {})) if (!labelKeyValid(k) || !LABEL_VALUE.test(v)) issues.push({ field: where(m, `metadata.labels.${k}`), message: 'Not a valid label' });
  if (m.kind === 'Deployment') {
    const spec = m.spec as { selector?: { matchLabels?: Record<string, string> }; template?: { metadata?: { labels?: Record<string, string> }; spec?: { containers?: { name: string }[] } } };
    const labels = spec.template?.metadata?.labels ?? {};
    const wanted = Object.entries(spec.selector?.matchLabels ?? {});
    if (wanted.length === 0 || !wanted.every(([k, v]) => labels[k] === v)) issues.push({ field: where(m, 'spec.selector'), message: 'The selector does not match the pod template labels' });
    for (const c of spec.template?.spec?.containers ?? []) if (!DNS_LABEL.test(c.name)) issues.push({ field: where(m, 'containers.name'), message: 'Not a DNS-1123 label' });
  }
  if (m.kind === 'Ingress') {
    const rules = ((m.spec as { rules?: { host?: string }[] }).rules ?? []);
    for (const r of rules) if (!r.host || !DNS_SUBDOMAIN.test(r.host)) issues.push({ field: where(m, 'spec.rules.host'), message: 'Not a DNS name' });
  }
  return issues;
}

/** Every object against kubernetes-models' schema and the API server's own rules; throws VALIDATION_ERROR. */
export function validateManifests(manifests: Manifest[]): void {
  const issues: FieldError[] = [];
  for (const m of manifests) {
    const ModelClass = (models() as unknown as Record<string, Model | undefined>)[m.kind];
    if (!ModelClass) {
      issues.push({ field: where(m), message: `Unexpected kind ${m.kind}` });
      continue;
    }
    try {
      new ModelClass(structuredClone(m) as never).validate();
    } catch (err) {
      const errors = (err as { errors?: { instancePath: string; message?: string }[] }).errors ?? [{ instancePath: '', message: (err as Error).message }];
      issues.push(...errors.map((e) => ({ field: where(m, e.instancePath.split('/').filter(Boolean).join('.')), message: e.message ?? 'invalid' })));
    }
    issues.push(...extraIssues(m));
  }
  if (issues.length > 0) fail('The generated Kubernetes objects are invalid', issues);
}
