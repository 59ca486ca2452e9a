import { kubernetesModel } from '../lib/kubernetes-models.js';
import { invalid, type StatusCause } from './kube-double.status.js';
import type { ResourceDef } from './kube-double.resources.js';
import { deepEqual, isObject, type Json, type JsonObject } from './kube-double.fields.js';
import { matchesSelector } from './kube-double.selectors.js';
import { quantityValue } from './kube-double.quantity.js';

type Model = new (data: never) => { validate(): void };
/** kubernetes-models' class of a kind, required with the first write of that kind: the simulated cluster idles without its schemas. */
const modelOf = (kind: string) => kubernetesModel(kind) as Model | undefined;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

const SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";

const bad = (field: string, value: unknown, detail: string): StatusCause => ({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` });
const required = (field: string): StatusCause => ({ reason: 'FieldValueRequired', field, message: 'Required value' });

/** `/spec/template/spec/containers/0/image` -> `spec.template.spec.containers[0].image`. */
function fieldOf(pointer: string): string {
  return pointer
    .split('/')
    .filter(Boolean)
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}

function schemaCauses(kind: string, obj: JsonObject): StatusCause[] {
  const ModelClass = modelOf(kind);
  if (!ModelClass) return [];
  try {
    new ModelClass(structuredClone(obj) as never).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: { instancePath: string; keyword: string; message?: string; params?: { missingProperty?: string } }[] }).errors ?? [];
    const seen = new Set<string>();
    const causes: StatusCause[] = [];
    for (const e of errors) {
      const field = fieldOf(e.keyword === 'required' ? `${e.instancePath}/${e.params?.missingProperty}` : e.instancePath);
      if (seen.has(field)) continue;
      seen.add(field);
      causes.push(e.keyword === 'required' ? required(field) : { reason: 'FieldValueInvalid', field, message: `Invalid value: ${e.message ?? 'invalid'}` });
    }
    return causes.length > 0 ? causes : [{ reason: 'FieldValueInvalid', field: '<root>', message: (err as Error).message }];
  }
}

function metadataCauses(def: ResourceDef, metadata: JsonObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const name = metadata.name;
  const labelOnly = def.kind === 'Namespace' || def.kind === 'Service';
  if (typeof name !== 'string' || name === '') causes.push(required('metadata.name'));
  else if (labelOnly ? !(DNS_LABEL.test(name) && name.length <= 63) : !(DNS_SUBDOMAIN.test(name) && name.length <= 253)) {
    causes.push(bad('metadata.name', name, labelOnly ? LABEL_MSG : SUBDOMAIN_MSG));
  }
  const labels = isObject(metadata.labels) ? metadata.labels : {};
  for (const [key, value] of Object.entries(labels)) {
    const [prefix, base] = key.includes('/') ? [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)] : [undefined, key];
    if ((prefix !== undefined && !DNS_SUBDOMAIN.test(prefix)) || !LABEL_NAME.test(base) || base.length > 63) causes.push(bad('metadata.labels', key, 'name part must consist of alphanumeric characters, \'-\', \'_\' or \'.\''));
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) causes.push(bad(`metadata.labels`, value, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
  }
  return causes;
}

function containerCauses(spec: Json | undefined, base: string): StatusCause[] {
  if (!isObject(spec)) return [required(base)];
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  if (containers.length === 0) return [required(`${base}.containers`)];
  const causes: StatusCause[] = [];
  const volumes = new Set((Array.isArray(spec.volumes) ? spec.volumes : []).map((v) => (isObject(v) ? v.name : undefined)));
  containers.forEach((c, i) => {
    const at = `${base}.containers[${i}]`;
    if (!isObject(c)) return;
    (Array.isArray(c.volumeMounts) ? c.volumeMounts : []).forEach((m, j) => {
      if (isObject(m) && !volumes.has(m.name)) causes.push({ reason: 'FieldValueNotFound', field: `${at}.volumeMounts[${j}].name`, message: `Not found: ${JSON.stringify(m.name)}` });
    });
    if (typeof c.name !== 'string' || !DNS_LABEL.test(c.name)) causes.push(bad(`${at}.name`, c.name, LABEL_MSG));
    if (typeof c.image !== 'string' || c.image.trim() === '') causes.push(required(`${at}.image`));
    const resources = isObject(c.resources) ? c.resources : {};
    const requests = isObject(resources.requests) ? resources.requests : {};
    const limits = isObject(resources.limits) ? resources.limits : {};
    for (const [name, value] of Object.entries(requests)) {
      const limit = quantityValue(limits[name]);
      const request = quantityValue(value);
      if (limit !== undefined && request !== undefined && request > limit) causes.push(bad(`${at}.resources.requests`, value, `must be less than or equal to ${name} limit of ${String(limits[name])}`));
    }
  });
  return causes;
}

function kindCauses(def: ResourceDef, obj: JsonObject, old: JsonObject | undefined): StatusCause[] {
  const spec = isObject(obj.spec) ? obj.spec : {};
  switch (def.kind) {
    case 'Deployment': {
      const template = isObject(spec.template) ? spec.template : {};
      const labels = isObject(template.metadata) && isObject(template.metadata.labels) ? (template.metadata.labels as Record<string, string>) : {};
      const causes = containerCauses(template.spec, 'spec.template.spec');
      if (!isObject(spec.selector)) causes.push(required('spec.selector'));
      else if (!matchesSelector(spec.selector, labels)) causes.push(bad('spec.template.metadata.labels', labels, '`selector` does not match template `labels`'));
      if (old && isObject(old.spec) && !deepEqual(old.spec.selector, spec.selector)) causes.push(bad('spec.selector', spec.selector, 'field is immutable'));
      return causes;
    }
    case 'Pod':
      return containerCauses(spec, 'spec');
    case 'Secret': {
      const data = isObject(obj.data) ? obj.data : {};
      return Object.keys(data).filter((k) => !SECRET_KEY.test(k)).map((k) => bad(`data[${k}]`, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
    }
    case 'PersistentVolumeClaim': {
      const storage = isObject(spec.resources) && isObject(spec.resources.requests) ? spec.resources.requests.storage : undefined;
      if (storage === undefined) return [required('spec.resources[storage]')];
      const before = old && isObject(old.spec) && isObject(old.spec.resources) && isObject(old.spec.resources.requests) ? old.spec.resources.requests.storage : undefined;
      const [now, was] = [quantityValue(storage), quantityValue(before)];
      if (now !== undefined && was !== undefined && now < was) return [{ reason: 'FieldValueForbidden', field: 'spec.resources.requests.storage', message: 'Forbidden: field can not be less than previous value' }];
      return [];
    }
    case 'Service':
      return spec.type !== 'ExternalName' && (!Array.isArray(spec.ports) || spec.ports.length === 0) ? [required('spec.ports')] : [];
    case 'Ingress': {
      const rules = Array.isArray(spec.rules) ? spec.rules.filter(isObject) : [];
      return rules.flatMap((r, i) =>
        typeof r.host === 'string' && !DNS_SUBDOMAIN.test(r.host.replace(/^\*\./, '')) ? [bad(`spec.rules[${i}].host`, r.host, SUBDOMAIN_MSG)] : [],
      );
    }
    default:
      return [];
  }
}

/**
 * Write validation: the official schema (kubernetes-models) and the API server's own checks the
 * schema cannot say (names, selector against template labels, requests within limits, immutable
 * and non-shrinking fields). Throws a 422 Invalid Status.
 */
export function validateObject(def: ResourceDef, obj: JsonObject, old?: JsonObject): void {
  const metadata = isObject(obj.metadata) ? obj.metadata : {};
  const causes = [...metadataCauses(def, metadata), ...schemaCauses(def.kind, obj), ...kindCauses(def, obj, old)];
  if (causes.length > 0) throw invalid(def, String(metadata.name ?? ''), causes);
}
