import { badRequest } from './kube-double.status.js';
import { isObject, type JsonObject } from './kube-double.fields.js';

type Labels = Record<string, string>;
type Requirement = (labels: Labels) => boolean;

/** Splits on commas outside parentheses: `a in (x,y),b!=c` has two requirements. */
function splitRequirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

const SET = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/;
const EQUALITY = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/;
const EXISTS = /^(!?)([^\s!=(),]+)$/;

function requirement(text: string): Requirement {
  let m = SET.exec(text);
  if (m) {
    const [, key = '', op, values = ''] = m;
    const set = new Set(values.split(',').map((v) => v.trim()));
    return op === 'in' ? (l) => l[key] !== undefined && set.has(l[key]) : (l) => l[key] === undefined || !set.has(l[key]);
  }
  m = EQUALITY.exec(text);
  if (m) {
    const [, key = '', op, value = ''] = m;
    return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  m = EXISTS.exec(text);
  if (m) {
    const [, not, key = ''] = m;
    return not ? (l) => l[key] === undefined : (l) => l[key] !== undefined;
  }
  throw badRequest(`unable to parse requirement: ${JSON.stringify(text)}`);
}

/** A `labelSelector` query parameter (=, ==, !=, in, notin, exists, !exists) as a predicate on labels. */
export function parseLabelSelector(text: string | undefined): (labels: Labels | undefined) => boolean {
  if (!text) return () => true;
  const reqs = splitRequirements(text).map(requirement);
  return (labels) => reqs.every((r) => r(labels ?? {}));
}

/** A LabelSelector object (matchLabels, matchExpressions) as a predicate, for controllers. */
export function matchesSelector(selector: unknown, labels: Labels | undefined): boolean {
  if (!isObject(selector)) return false;
  const l = labels ?? {};
  const matchLabels = isObject(selector.matchLabels) ? selector.matchLabels : {};
  if (!Object.entries(matchLabels).every(([k, v]) => l[k] === v)) return false;
  const expressions = Array.isArray(selector.matchExpressions) ? selector.matchExpressions : [];
  return expressions.every((e) => {
    if (!isObject(e) || typeof e.key !== 'string') return false;
    const values = Array.isArray(e.values) ? e.values.map(String) : [];
    const v = l[e.key];
    switch (e.operator) {
      case 'In': return v !== undefined && values.includes(v);
      case 'NotIn': return v === undefined || !values.includes(v);
      case 'Exists': return v !== undefined;
      case 'DoesNotExist': return v === undefined;
      default: return false;
    }
  });
}

const FIELD_PATHS: Record<string, (o: JsonObject) => unknown> = {
  'metadata.name': (o) => (o.metadata as JsonObject | undefined)?.name,
  'metadata.namespace': (o) => (o.metadata as JsonObject | undefined)?.namespace,
  'spec.nodeName': (o) => (o.spec as JsonObject | undefined)?.nodeName ?? '',
  'status.phase': (o) => (o.status as JsonObject | undefined)?.phase ?? '',
};

/** A `fieldSelector` query parameter over the few fields Kubernetes indexes for the kinds served. */
export function parseFieldSelector(text: string | undefined): (obj: JsonObject) => boolean {
  if (!text) return () => true;
  const reqs = splitRequirements(text).map((part) => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    const read = m ? FIELD_PATHS[m[1] ?? ''] : undefined;
    if (!m || !read) throw badRequest(`field label not supported: ${part.split(/[=!]/)[0]}`);
    const [, , op, value] = m;
    return (o: JsonObject) => (op === '!=' ? String(read(o) ?? '') !== value : String(read(o) ?? '') === value);
  });
  return (obj) => reqs.every((r) => r(obj));
}
