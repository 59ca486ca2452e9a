/**
 * Field sets of server-side apply, as the API server's structured-merge-diff keeps them: a field is
 * a path of elements `f:<name>` (a map key) and `k:<json>` (an item of an associative list, found by
 * its key fields); an item's own presence is recorded as the item path itself (the "." of fieldsV1).
 * Which lists are associative and by which keys, and which maps are atomic, follows the
 * `x-kubernetes-list-map-keys` / `x-kubernetes-map-type` markers of the OpenAPI schema for the kinds
 * the double serves.
 */

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json | undefined;
}

const SEP = '\u0001';
export const joinPath = (elements: string[]) => elements.join(SEP);
export const splitPath = (path: string) => (path === '' ? [] : path.split(SEP));

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
export const clone = <T>(v: T): T => structuredClone(v);

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);

/** Key fields of an associative list at a path of field names, or undefined for an atomic list. */
export function listKeys(names: string[]): string[] | undefined {
  const last = names.at(-1);
  const parent = names.at(-2);
  if (last === undefined) return undefined;
  if (CONTAINER_LISTS.has(last) || last === 'env' || last === 'volumes' || last === 'imagePullSecrets') return ['name'];
  if (last === 'ports' && parent !== undefined && CONTAINER_LISTS.has(parent)) return ['containerPort', 'protocol'];
  if (last === 'ports' && names.length === 2 && parent === 'spec') return ['port', 'protocol'];
  if (last === 'volumeMounts') return ['mountPath'];
  if (last === 'ownerReferences') return ['uid'];
  if (last === 'conditions') return ['type'];
  return undefined;
}

/** Label selectors (and Service selectors) are atomic: one owner sets them whole. */
const atomicMap = (names: string[]) => {
  const last = names.at(-1);
  return last === 'selector' || last === 'podSelector' || last === 'namespaceSelector';
};

const KEY_DEFAULTS: Record<string, Json> = { protocol: 'TCP' };

export function itemKey(item: Json, keys: string[]): string {
  const key: JsonObject = {};
  for (const k of keys) key[k] = (isObject(item) ? item[k] : undefined) ?? KEY_DEFAULTS[k] ?? null;
  return `k:${JSON.stringify(key)}`;
}

/** Metadata fields the server sets: never owned by a manager. */
const SERVER_METADATA = new Set(['name', 'namespace', 'generateName', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink']);

/** The set of fields an object (an applied configuration or a stored object) sets. */
export function fieldSet(obj: JsonObject, hasStatus: boolean): Set<string> {
  const out = new Set<string>();
  const walk = (value: Json, path: string[], names: string[]) => {
    if (isObject(value) && !atomicMap(names) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) {
        if (v === null || v === undefined) continue;
        walk(v, [...path, `f:${k}`], [...names, k]);
      }
      return;
    }
    const keys = Array.isArray(value) ? listKeys(names) : undefined;
    if (Array.isArray(value) && keys) {
      for (const item of value) {
        const itemPath = [...path, itemKey(item, keys)];
        out.add(joinPath(itemPath));
        if (isObject(item)) for (const [k, v] of Object.entries(item)) if (v !== null && v !== undefined) walk(v, [...itemPath, `f:${k}`], [...names, k]);
      }
      return;
    }
    out.add(joinPath(path));
  };
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || v === null || v === undefined || (k === 'status' && hasStatus)) continue;
    if (k === 'metadata' && isObject(v)) {
      for (const [mk, mv] of Object.entries(v)) if (!SERVER_METADATA.has(mk) && mv !== null && mv !== undefined) walk(mv, ['f:metadata', `f:${mk}`], ['metadata', mk]);
      continue;
    }
    walk(v, [`f:${k}`], [k]);
  }
  return out;
}

/** The value at a field path, undefined when absent. */
export function getAt(obj: Json | undefined, path: string): Json | undefined {
  let node: Json | undefined = obj;
  const names: string[] = [];
  for (const el of splitPath(path)) {
    if (node === undefined || node === null) return undefined;
    if (el.startsWith('f:')) {
      const name = el.slice(2);
      if (!isObject(node)) return undefined;
      node = node[name];
      names.push(name);
    } else {
      const keys = listKeys(names);
      if (!Array.isArray(node) || !keys) return undefined;
      node = node.find((item) => itemKey(item, keys) === el);
    }
  }
  return node;
}

/** Removes the field at a path (a map key or a list item) from an object, in place; prunes maps it empties. */
export function removeAt(obj: JsonObject, path: string, keep: (path: string) => boolean): void {
  const els = splitPath(path);
  const parents: { node: Json; el: string; names: string[] }[] = [];
  let node: Json | undefined = obj;
  const names: string[] = [];
  for (const el of els) {
    if (node === undefined || node === null) return;
    parents.push({ node, el, names: [...names] });
    if (el.startsWith('f:')) {
      if (!isObject(node)) return;
      names.push(el.slice(2));
      node = node[el.slice(2)];
    } else {
      const keys = listKeys(names);
      if (!Array.isArray(node) || !keys) return;
      node = node.find((item) => itemKey(item, keys) === el);
    }
  }
  for (let i = parents.length - 1; i >= 0; i--) {
    const { node: parent, el, names: parentNames } = parents[i] as (typeof parents)[number];
    if (el.startsWith('f:') && isObject(parent)) delete parent[el.slice(2)];
    else if (Array.isArray(parent)) {
      const keys = listKeys(parentNames) ?? [];
      const idx = parent.findIndex((item) => itemKey(item, keys) === el);
      if (idx >= 0) parent.splice(idx, 1);
    }
    const container = parents[i - 1];
    if (i <= 1 || !container) break;
    const containerPath = joinPath(els.slice(0, i));
    const emptied = (isObject(parent) && Object.keys(parent).length === 0) || (Array.isArray(parent) && parent.length === 0);
    if (!emptied || keep(containerPath)) break;
  }
}

/** Server-side apply's merge: maps merge key by key, associative lists item by item, anything else is replaced. */
export function mergeApplied(live: Json | undefined, applied: Json, names: string[] = []): Json {
  if (isObject(applied) && isObject(live) && !atomicMap(names)) {
    const out: JsonObject = { ...live };
    for (const [k, v] of Object.entries(applied)) {
      if (v === null || v === undefined) continue;
      out[k] = mergeApplied(live[k], v, [...names, k]);
    }
    return out;
  }
  const keys = Array.isArray(applied) ? listKeys(names) : undefined;
  if (Array.isArray(applied) && Array.isArray(live) && keys) {
    const out = live.map((item) => clone(item));
    for (const item of applied) {
      const idx = out.findIndex((existing) => itemKey(existing, keys) === itemKey(item, keys));
      if (idx >= 0) out[idx] = mergeApplied(out[idx], item, names);
      else out.push(clone(item));
    }
    return out;
  }
  return clone(applied);
}

/** fieldsV1, the wire form of a field set. */
export function toFieldsV1(set: Set<string>): JsonObject {
  const root: JsonObject = {};
  for (const path of [...set].sort()) {
    let node = root;
    for (const el of splitPath(path)) {
      if (!isObject(node[el])) node[el] = {};
      node = node[el] as JsonObject;
    }
    if (splitPath(path).at(-1)?.startsWith('k:')) node['.'] = {};
  }
  return root;
}

export function fromFieldsV1(fields: Json | undefined): Set<string> {
  const out = new Set<string>();
  const walk = (node: JsonObject, path: string[]) => {
    for (const [k, v] of Object.entries(node)) {
      if (k === '.') out.add(joinPath(path));
      else if (!isObject(v) || Object.keys(v).length === 0) out.add(joinPath([...path, k]));
      else walk(v, [...path, k]);
    }
  };
  if (isObject(fields)) walk(fields, []);
  return out;
}

/** `.spec.template.spec.containers[name="app"].image`: a field path as the API server prints it in conflicts. */
export function describePath(path: string): string {
  return splitPath(path)
    .map((el) => {
      if (el.startsWith('f:')) return `.${el.slice(2)}`;
      const key = JSON.parse(el.slice(2)) as JsonObject;
      return `[${Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
    })
    .join('');
}
