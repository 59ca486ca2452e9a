import { randomUUID } from 'node:crypto';
import { apiVersionOf, RESOURCES, type ResourceDef } from './kube-double.resources.js';
import { alreadyExists, badRequest, namespaceNotFound, namespaceTerminating, notFound, staleResourceVersion } from './kube-double.status.js';
import { clone, deepEqual, isObject, type JsonObject } from './kube-double.fields.js';
import { readOwnership, recordUpdate, sameOwnership, serverSideApply, writableFields, writeOwnership, type Ownership } from './kube-double.apply.js';
import { applyDefaults, initialize } from './kube-double.defaults.js';
import { validateObject } from './kube-double.validate.js';

export type StoreEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface StoreEvent {
  type: StoreEventType;
  def: ResourceDef;
  object: JsonObject;
}

export interface WriteOptions {
  manager: string;
  dryRun?: boolean;
}

const NAMESPACE = RESOURCES.find((r) => r.kind === 'Namespace') as ResourceDef;
const metaOf = (o: JsonObject) => o.metadata as JsonObject;
const nameOf = (o: JsonObject) => String(metaOf(o).name ?? '');
/** RFC 3339 to the second, as the API server writes timestamps. */
export const timestamp = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

/** Everything but metadata and status: a change here is a new generation. */
const specOf = (o: JsonObject) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'metadata' && k !== 'status' && k !== 'apiVersion' && k !== 'kind'));

/**
 * The double's etcd and the API server's write path: uid, resourceVersion (one counter for all
 * objects), generation (spec changes only), defaults, validation, managedFields, the namespace
 * lifecycle admission checks and finalizers. Every committed change is reported to `onEvent`.
 */
export function createStore({ validate, now, onEvent }: { validate: () => boolean; now: () => Date; onEvent: (e: StoreEvent) => void }) {
  // resource -> namespace ('' when cluster-scoped) -> name: a namespace's objects are found without a scan.
  const objects = new Map<string, Map<string, Map<string, JsonObject>>>();
  let revision = 0;
  const resourceKey = (def: ResourceDef) => `${apiVersionOf(def)}/${def.plural}`;
  const nsKey = (def: ResourceDef, namespace: string | undefined) => (def.namespaced ? namespace ?? '' : '');

  const get = (def: ResourceDef, namespace: string | undefined, name: string) => objects.get(resourceKey(def))?.get(nsKey(def, namespace))?.get(name);

  function list(def: ResourceDef, namespace?: string): JsonObject[] {
    const byNamespace = objects.get(resourceKey(def));
    if (!byNamespace) return [];
    const buckets = def.namespaced && namespace ? [byNamespace.get(namespace)] : [...byNamespace.values()];
    const items = buckets.flatMap((b) => (b ? [...b.values()] : []));
    // By key in byte order, as etcd returns them (and without localeCompare's cost on 2,000-item lists).
    const keyed = items.map((o) => ({ key: `${metaOf(o).namespace ?? ''}/${nameOf(o)}`, o }));
    return keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((k) => k.o);
  }

  function commit(def: ResourceDef, obj: JsonObject, type: StoreEventType) {
    const byNamespace = objects.get(resourceKey(def)) ?? new Map<string, Map<string, JsonObject>>();
    objects.set(resourceKey(def), byNamespace);
    const ns = nsKey(def, metaOf(obj).namespace as string | undefined);
    const bucket = byNamespace.get(ns) ?? new Map<string, JsonObject>();
    if (type === 'DELETED') {
      bucket.delete(nameOf(obj));
      if (bucket.size === 0) byNamespace.delete(ns);
    } else {
      revision += 1;
      metaOf(obj).resourceVersion = String(revision);
      bucket.set(nameOf(obj), obj);
      byNamespace.set(ns, bucket);
    }
    onEvent({ type, def, object: obj });
    return obj;
  }

  /** Namespace lifecycle admission: creating into a missing or terminating namespace is refused. */
  function admitCreate(def: ResourceDef, namespace: string | undefined, name: string) {
    if (!def.namespaced) return;
    const ns = get(NAMESPACE, undefined, namespace ?? '');
    if (!ns) throw namespaceNotFound(namespace ?? '');
    if (metaOf(ns).deletionTimestamp) throw namespaceTerminating(def, name, String(namespace));
  }

  function checkIdentity(def: ResourceDef, body: JsonObject, namespace: string | undefined, name?: string) {
    if (!isObject(body.metadata)) body.metadata = {};
    if (body.apiVersion !== apiVersionOf(def) || body.kind !== def.kind) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersionOf(def)}) or kind (${String(body.kind)} is not ${def.kind})`);
    }
    const meta = metaOf(body);
    if (name !== undefined && meta.name !== undefined && meta.name !== name) throw badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
    if (def.namespaced && meta.namespace !== undefined && meta.namespace !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    if (name !== undefined) meta.name = name;
    if (def.namespaced) meta.namespace = namespace;
    else delete meta.namespace;
  }

  /** Shared tail of every write: defaults, validation, generation, ownership, no-op detection, commit. */
  function finish(def: ResourceDef, old: JsonObject | undefined, next: JsonObject, owners: Ownership[], opts: WriteOptions): JsonObject {
    applyDefaults(def.kind, next);
    if (validate()) validateObject(def, next, old);
    const meta = metaOf(next);
    if (!old) {
      Object.assign(meta, { uid: randomUUID(), creationTimestamp: timestamp(now()), generation: 1 });
      initialize(def.kind, next);
      writeOwnership(next, owners);
      if (opts.dryRun) return next;
      return commit(def, next, 'ADDED');
    }
    const oldMeta = metaOf(old);
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds']) if (oldMeta[k] !== undefined) meta[k] = oldMeta[k];
    meta.generation = deepEqual(specOf(old), specOf(next)) ? oldMeta.generation ?? 1 : Number(oldMeta.generation ?? 1) + 1;
    if (def.hasStatus && old.status !== undefined) next.status = clone(old.status);
    // A namespace's spec.finalizers change only through its finalize subresource.
    if (def.kind === 'Namespace' && isObject(old.spec)) next.spec = { ...(isObject(next.spec) ? next.spec : {}), finalizers: clone(old.spec.finalizers ?? []) };
    const strip = (o: JsonObject) => ({ ...o, metadata: { ...metaOf(o), managedFields: undefined, resourceVersion: undefined } });
    if (deepEqual(strip(old), strip(next)) && sameOwnership(readOwnership(old), owners)) return old;
    writeOwnership(next, owners);
    if (opts.dryRun) return next;
    const finalized = meta.deletionTimestamp && !(Array.isArray(meta.finalizers) && meta.finalizers.length > 0) && def.kind !== 'Namespace';
    return commit(def, next, finalized ? 'DELETED' : 'MODIFIED');
  }

  function checkVersion(def: ResourceDef, old: JsonObject, body: JsonObject) {
    const wanted = isObject(body.metadata) ? body.metadata.resourceVersion : undefined;
    if (wanted !== undefined && wanted !== '' && wanted !== metaOf(old).resourceVersion) throw staleResourceVersion(def, nameOf(old));
  }

  const time = () => timestamp(now());

  return {
    get,
    list,
    all: () => [...objects.values()].flatMap((byNamespace) => [...byNamespace.values()].flatMap((bucket) => [...bucket.values()])),
    revision: () => String(revision),

    create(def: ResourceDef, namespace: string | undefined, body: JsonObject, opts: WriteOptions): JsonObject {
      checkIdentity(def, body, namespace);
      const meta = metaOf(body);
      if (!meta.name && typeof meta.generateName === 'string') meta.name = `${meta.generateName}${Math.random().toString(36).slice(2, 7)}`;
      const name = String(meta.name ?? '');
      if (name && get(def, namespace, name)) throw alreadyExists(def, name);
      admitCreate(def, namespace, name);
      const next = writableFields(body, def);
      return finish(def, undefined, next, recordUpdate(def, undefined, next, opts.manager, time()), opts);
    },

    replace(def: ResourceDef, namespace: string | undefined, name: string, body: JsonObject, opts: WriteOptions): JsonObject {
      checkIdentity(def, body, namespace, name);
      const old = get(def, namespace, name);
      if (!old) throw notFound(def, name);
      checkVersion(def, old, body);
      const next = writableFields(body, def);
      return finish(def, old, next, recordUpdate(def, old, next, opts.manager, time()), opts);
    },

    apply(def: ResourceDef, namespace: string | undefined, name: string, body: JsonObject, opts: WriteOptions & { force: boolean }): JsonObject {
      checkIdentity(def, body, namespace, name);
      const old = get(def, namespace, name);
      if (old) checkVersion(def, old, body);
      else admitCreate(def, namespace, name);
      const { object, owners } = serverSideApply({ def, live: old, applied: body, manager: opts.manager, force: opts.force, time: time() });
      return finish(def, old, object, owners, opts);
    },

    /** A write that does not go through a request (controllers): takes a mutated copy. */
    update(def: ResourceDef, next: JsonObject, manager?: string): JsonObject {
      const old = get(def, metaOf(next).namespace as string | undefined, nameOf(next));
      if (!old) throw notFound(def, nameOf(next));
      const owners = manager ? recordUpdate(def, old, next, manager, time()) : readOwnership(old);
      if (!manager && def.hasStatus) {
        // A status write: only status (and finalizers, which controllers remove) may change.
        const merged = { ...clone(old), status: clone(next.status) };
        metaOf(merged).finalizers = metaOf(next).finalizers;
        if (deepEqual(old, merged)) return old;
        return commit(def, merged, metaOf(merged).deletionTimestamp && !(Array.isArray(metaOf(merged).finalizers) && (metaOf(merged).finalizers as unknown[]).length > 0) ? 'DELETED' : 'MODIFIED');
      }
      return finish(def, old, clone(next), owners, { manager: manager ?? '' });
    },

    /** DELETE: immediate, or a deletionTimestamp while finalizers (and for namespaces, their content) remain. */
    remove(def: ResourceDef, namespace: string | undefined, name: string, opts: { dryRun?: boolean } = {}): { object: JsonObject; gone: boolean } {
      const old = get(def, namespace, name);
      if (!old) throw notFound(def, name);
      const meta = metaOf(old);
      const finalizers = Array.isArray(meta.finalizers) ? meta.finalizers : [];
      if (def.kind !== 'Namespace' && finalizers.length === 0) {
        if (!opts.dryRun) commit(def, old, 'DELETED');
        return { object: old, gone: true };
      }
      if (meta.deletionTimestamp || opts.dryRun) return { object: old, gone: false };
      const next = clone(old);
      Object.assign(metaOf(next), { deletionTimestamp: timestamp(now()), deletionGracePeriodSeconds: 0 });
      if (def.kind === 'Namespace') next.status = { ...(isObject(next.status) ? next.status : {}), phase: 'Terminating' };
      return { object: commit(def, next, 'MODIFIED'), gone: false };
    },

    /** Removes an object at once, whatever its finalizers (the namespace controller's last step, node removal). */
    purge(def: ResourceDef, obj: JsonObject) {
      if (get(def, metaOf(obj).namespace as string | undefined, nameOf(obj))) commit(def, obj, 'DELETED');
    },
  };
}

export type Store = ReturnType<typeof createStore>;
