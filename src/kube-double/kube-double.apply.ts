import { applyConflict, type FieldConflict } from './kube-double.status.js';
import type { ResourceDef } from './kube-double.resources.js';
import {
  clone,
  deepEqual,
  describePath,
  fieldSet,
  fromFieldsV1,
  getAt,
  isObject,
  mergeApplied,
  removeAt,
  splitPath,
  toFieldsV1,
  type JsonObject,
} from './kube-double.fields.js';

/** One entry of metadata.managedFields, with its field set decoded. */
export interface Ownership {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  set: Set<string>;
}

export function readOwnership(obj: JsonObject | undefined): Ownership[] {
  const entries = isObject(obj?.metadata) && Array.isArray(obj.metadata.managedFields) ? obj.metadata.managedFields : [];
  return entries.filter(isObject).map((e) => ({
    manager: String(e.manager ?? ''),
    operation: e.operation === 'Apply' ? 'Apply' : 'Update',
    apiVersion: String(e.apiVersion ?? ''),
    time: String(e.time ?? ''),
    set: fromFieldsV1(e.fieldsV1),
  }));
}

export function writeOwnership(obj: JsonObject, owners: Ownership[]): void {
  const metadata = (obj.metadata ?? {}) as JsonObject;
  const entries = owners
    .filter((o) => o.set.size > 0)
    .map((o) => ({ manager: o.manager, operation: o.operation, apiVersion: o.apiVersion, time: o.time, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(o.set) }));
  if (entries.length > 0) metadata.managedFields = entries;
  else delete metadata.managedFields;
  obj.metadata = metadata;
}

export function sameOwnership(a: Ownership[], b: Ownership[]): boolean {
  const live = (list: Ownership[]) => list.filter((o) => o.set.size > 0);
  const x = live(a);
  const y = live(b);
  return (
    x.length === y.length &&
    x.every((o, i) => {
      const p = y[i] as Ownership;
      return o.manager === p.manager && o.operation === p.operation && o.apiVersion === p.apiVersion && o.set.size === p.set.size && [...o.set].every((f) => p.set.has(f));
    })
  );
}

const isItemPath = (path: string) => splitPath(path).at(-1)?.startsWith('k:') ?? false;

/** Drops what a request body may not set: server-owned metadata and, for kinds with a status subresource, status. */
export function writableFields(body: JsonObject, def: ResourceDef): JsonObject {
  const out = clone(body);
  if (def.hasStatus) delete out.status;
  if (isObject(out.metadata)) {
    for (const k of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink']) delete out.metadata[k];
  }
  return out;
}

export interface ApplyInput {
  def: ResourceDef;
  live: JsonObject | undefined;
  applied: JsonObject;
  manager: string;
  force: boolean;
  time: string;
}

/**
 * Server-side apply: checks the applied fields against every other manager (a field another manager
 * owns with a different live value is a conflict, unless forced, which takes it over), removes the
 * fields this manager applied last time and no longer applies (when nobody else owns them), merges
 * the applied configuration, and records the applied set as this manager's. Throws a 409 Status.
 */
export function serverSideApply({ def, live, applied, manager, force, time }: ApplyInput): { object: JsonObject; owners: Ownership[] } {
  const apiVersion = String(applied.apiVersion);
  const owners = readOwnership(live).map((o) => ({ ...o, set: new Set(o.set) }));
  const appliedSet = fieldSet(applied, def.hasStatus);
  const isMine = (o: Ownership) => o.manager === manager && o.operation === 'Apply';
  const conflicts: FieldConflict[] = [];
  const taken: { owner: Ownership; path: string }[] = [];
  for (const path of appliedSet) {
    if (isItemPath(path)) continue;
    const have = getAt(live, path);
    if (have !== undefined && deepEqual(have, getAt(applied, path))) continue;
    for (const o of owners) {
      if (isMine(o) || !o.set.has(path)) continue;
      conflicts.push({ manager: o.manager, apiVersion: o.apiVersion, field: describePath(path) });
      taken.push({ owner: o, path });
    }
  }
  if (conflicts.length > 0 && !force) throw applyConflict(def, String((applied.metadata as JsonObject | undefined)?.name ?? ''), conflicts);
  for (const { owner, path } of taken) owner.set.delete(path);

  const others = owners.filter((o) => !isMine(o));
  const ownedByOthers = (path: string) => others.some((o) => o.set.has(path) || (isItemPath(path) && [...o.set].some((f) => f.startsWith(path))));
  const result: JsonObject = live ? clone(live) : {};
  const previous = owners.find(isMine);
  if (previous) {
    const stale = [...previous.set].filter((p) => !appliedSet.has(p) && !ownedByOthers(p));
    // Deepest first, so an item's fields go before the item itself.
    stale.sort((a, b) => splitPath(b).length - splitPath(a).length);
    for (const path of stale) removeAt(result, path, (p) => ownedByOthers(p) || appliedSet.has(p));
  }
  const merged = mergeApplied(result, writableFields(applied, def)) as JsonObject;
  const mine: Ownership = { manager, operation: 'Apply', apiVersion, time, set: appliedSet };
  const nextOwners = previous ? owners.map((o) => (isMine(o) ? mine : o)) : [...owners, mine];
  return { object: merged, owners: nextOwners };
}

/**
 * Ownership after a non-apply write (create, update, merge patch): the writer takes the fields it
 * added or changed, fields that disappeared are owned by nobody. Updates never conflict.
 */
export function recordUpdate(def: ResourceDef, old: JsonObject | undefined, next: JsonObject, manager: string, time: string): Ownership[] {
  const owners = readOwnership(old).map((o) => ({ ...o, set: new Set(o.set) }));
  const oldSet = old ? fieldSet(old, def.hasStatus) : new Set<string>();
  const newSet = fieldSet(next, def.hasStatus);
  const changed = [...newSet].filter((p) => !oldSet.has(p) || (!isItemPath(p) && !deepEqual(getAt(old, p), getAt(next, p))));
  const removed = [...oldSet].filter((p) => !newSet.has(p));
  for (const o of owners) for (const p of [...changed, ...removed]) o.set.delete(p);
  if (changed.length > 0) {
    const mine = owners.find((o) => o.manager === manager && o.operation === 'Update');
    if (mine) {
      for (const p of changed) mine.set.add(p);
      mine.time = time;
    } else owners.push({ manager, operation: 'Update', apiVersion: String(next.apiVersion), time, set: new Set(changed) });
  }
  return owners;
}
