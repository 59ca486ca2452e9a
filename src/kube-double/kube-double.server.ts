import type { IncomingMessage, ServerResponse } from 'node:http';
import { apiVersionOf, discovery, resourceByPath, type ResourceDef } from './kube-double.resources.js';
import {
  badRequest, injectedStatus, isStatusError, methodNotAllowed, notFound, statusError, unauthorized, unknownPath, unsupportedMediaType, type StatusBody,
} from './kube-double.status.js';
import { clone, isObject, type Json, type JsonObject } from './kube-double.fields.js';
import { parseFieldSelector, parseLabelSelector } from './kube-double.selectors.js';
import { metricsList, podLog, type UsageFn } from './kube-double.observe.js';
import type { Store } from './kube-double.store.js';
import type { Controllers } from './kube-double.controllers.js';
import type { Faults, RequestLog, RequestRecord } from './kube-double.faults.js';

export interface ServerContext {
  store: Store;
  controllers: Controllers;
  faults: Faults;
  requests: RequestLog;
  token: string;
  metricsEnabled: () => boolean;
  usage: () => UsageFn;
  serverAddress: () => string;
  now: () => Date;
}

interface Route {
  def: ResourceDef;
  namespace?: string;
  name?: string;
  sub?: string;
}

type Reply = { status: number; body: unknown; text?: boolean };
const MAX_BODY = 3 * 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function parseRoute(path: string, metricsEnabled: boolean): Route | undefined {
  const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.+)$/.exec(path);
  if (!m) return undefined;
  const group = m[2] ?? '';
  const version = (m[1] ?? m[3]) as string;
  const seg = (m[4] as string).split('/').map(decodeURIComponent);
  let route: Route | undefined;
  const namespacedDef = seg[0] === 'namespaces' && seg.length >= 3 ? resourceByPath(group, version, seg[2] as string, metricsEnabled) : undefined;
  if (namespacedDef?.namespaced) route = { def: namespacedDef, namespace: seg[1], name: seg[3], sub: seg[4] };
  else {
    const def = resourceByPath(group, version, seg[0] as string, metricsEnabled);
    if (def && (!def.namespaced || seg.length === 1)) route = { def, name: seg[1], sub: seg[2] };
  }
  if (route?.sub !== undefined && !route.def.subresources.some((s) => s.name === route?.sub)) return undefined;
  return route;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw statusError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** JSON as the client sends it; YAML (a superset) parsed by the client's loader, imported only then. */
async function parseObject(text: string, contentType: string): Promise<JsonObject> {
  const yaml = contentType.includes('yaml');
  try {
    let value: Json;
    try {
      value = JSON.parse(text) as Json;
    } catch (err) {
      if (!yaml) throw err;
      value = (await import('@kubernetes/client-node')).loadYaml(text) as Json;
    }
    if (!isObject(value)) throw new Error('not an object');
    return value;
  } catch (err) {
    throw badRequest(`error decoding ${yaml ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (v !== undefined) out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** A list as the API server sends it: items without their own apiVersion and kind. */
function listOf(ctx: ServerContext, route: Route, query: URLSearchParams): Reply {
  const { def } = route;
  if (query.get('watch') === 'true' || query.get('watch') === '1') throw badRequest('watch is not supported by the Kubernetes API double');
  if (def.metrics) return { status: 200, body: metricsList(ctx.store, ctx.usage(), def.kind as 'PodMetrics' | 'NodeMetrics', route.namespace, ctx.now()) };
  const byLabels = parseLabelSelector(query.get('labelSelector') ?? undefined);
  const byFields = parseFieldSelector(query.get('fieldSelector') ?? undefined);
  let items = ctx.store.list(def, route.namespace).filter((o) => byLabels((o.metadata as JsonObject).labels as Record<string, string>) && byFields(o));
  const offset = Number(query.get('continue') ? Buffer.from(String(query.get('continue')), 'base64url').toString() : 0) || 0;
  const limit = Number(query.get('limit') ?? 0);
  const total = items.length;
  items = limit > 0 ? items.slice(offset, offset + limit) : items.slice(offset);
  const more = limit > 0 && offset + limit < total;
  const metadata = { resourceVersion: ctx.store.revision(), ...(more ? { continue: Buffer.from(String(offset + limit)).toString('base64url'), remainingItemCount: total - offset - limit } : {}) };
  // A shallow copy is enough: the reply is serialized at once and nothing writes to it.
  const stripped = items.map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
  return { status: 200, body: { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata, items: stripped } };
}

async function resourceRequest(ctx: ServerContext, req: IncomingMessage, route: Route, query: URLSearchParams, record: RequestRecord): Promise<Reply> {
  const { def, namespace, name, sub } = route;
  const method = req.method ?? 'GET';
  const dryRunValue = query.get('dryRun');
  if (dryRunValue !== null && dryRunValue !== 'All') throw badRequest(`Invalid dry run value: ${dryRunValue}; only "All" is supported`);
  const dryRun = dryRunValue === 'All';
  if (method === 'GET' && name === undefined) return listOf(ctx, route, query);
  if (method === 'GET' && def.metrics) {
    const list = metricsList(ctx.store, ctx.usage(), def.kind as 'PodMetrics' | 'NodeMetrics', namespace, ctx.now()) as { items: JsonObject[] };
    const item = list.items.find((i) => (i.metadata as JsonObject).name === name);
    if (!item) throw notFound(def, String(name));
    return { status: 200, body: { kind: def.kind, apiVersion: apiVersionOf(def), ...item } };
  }
  if (def.metrics || (sub !== undefined && !(method === 'GET'))) throw methodNotAllowed(method);
  if (method === 'GET' && sub === 'log') return { status: 200, body: podLog(ctx.store, ctx.controllers, String(namespace), String(name), query), text: true };
  if (method === 'GET') {
    const obj = ctx.store.get(def, namespace, String(name));
    if (!obj) throw notFound(def, String(name));
    return { status: 200, body: obj };
  }
  if (method === 'DELETE') {
    if (name === undefined) throw methodNotAllowed(method);
    const { object, gone } = ctx.store.remove(def, namespace, name, { dryRun });
    if (gone && def.kind !== 'Namespace') {
      const details = { name, ...(def.group ? { group: def.group } : {}), kind: def.plural, uid: (object.metadata as JsonObject).uid };
      return { status: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details } };
    }
    return { status: 200, body: object };
  }
  const contentType = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const text = await readBody(req);
  const manager = query.get('fieldManager') ?? String(req.headers['user-agent'] ?? 'unknown').split('/')[0] ?? 'unknown';
  const force = query.get('force');
  if (method === 'POST' || method === 'PUT') {
    if (!['application/json', 'application/yaml', ''].includes(contentType)) throw unsupportedMediaType(contentType);
    const body = await parseObject(text, contentType);
    record.body = body;
    if (method === 'POST') {
      if (name !== undefined) throw methodNotAllowed(method);
      return { status: 201, body: ctx.store.create(def, namespace, body, { manager, dryRun }) };
    }
    if (name === undefined) throw methodNotAllowed(method);
    return { status: 200, body: ctx.store.replace(def, namespace, name, body, { manager, dryRun }) };
  }
  if (method !== 'PATCH' || name === undefined) throw methodNotAllowed(method);
  if (contentType === 'application/apply-patch+yaml') {
    const body = await parseObject(text, 'yaml');
    record.body = body;
    if (!query.get('fieldManager')) throw invalidPatchOptions('fieldManager', 'FieldValueRequired', 'Required value: is required for apply patch');
    if (force !== null && force !== 'true' && force !== 'false') throw badRequest(`invalid force value: ${force}`);
    const existed = ctx.store.get(def, namespace, name) !== undefined;
    const obj = ctx.store.apply(def, namespace, name, body, { manager, force: force === 'true', dryRun });
    return { status: existed ? 200 : 201, body: obj };
  }
  if (force !== null) throw invalidPatchOptions('force', 'FieldValueForbidden', 'Forbidden: may not be specified for non-apply patch');
  if (contentType !== 'application/merge-patch+json') throw unsupportedMediaType(contentType);
  const patch = await parseObject(text, 'json');
  record.body = patch;
  const old = ctx.store.get(def, namespace, name);
  if (!old) throw notFound(def, name);
  const merged = mergePatch(old, patch) as JsonObject;
  if (!(isObject(patch.metadata) && patch.metadata.resourceVersion)) delete (merged.metadata as JsonObject).resourceVersion;
  return { status: 200, body: ctx.store.replace(def, namespace, name, merged, { manager, dryRun }) };
}

/** The API server validates PatchOptions before anything else and answers 422 for them. */
const invalidPatchOptions = (field: string, reason: string, message: string) =>
  statusError(422, 'Invalid', `PatchOptions.meta.k8s.io "" is invalid: ${field}: ${message}`, { group: 'meta.k8s.io', kind: 'PatchOptions', causes: [{ reason, message, field }] });

function send(res: ServerResponse, reply: Reply, headers: Record<string, string> = {}) {
  const payload = reply.text ? String(reply.body) : JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'Content-Type': reply.text ? 'text/plain' : 'application/json', 'Cache-Control': 'no-cache, private', ...headers });
  res.end(payload);
}

/** The request handler: fault injection, authentication, discovery, then the resource endpoints. */
export function createHandler(ctx: ServerContext) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://kube-double');
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const record: RequestRecord = {
      at: ctx.now(), method, path, query: Object.fromEntries(url.searchParams), status: 0,
      ...(req.headers['content-type'] ? { contentType: String(req.headers['content-type']) } : {}),
      ...(url.searchParams.get('fieldManager') ? { fieldManager: String(url.searchParams.get('fieldManager')) } : {}),
      ...(url.searchParams.get('force') ? { force: url.searchParams.get('force') === 'true' } : {}),
    };
    ctx.requests.add(record);
    try {
      const fault = ctx.faults.take(method, path);
      if (fault?.latencyMs) {
        record.fault = 'latency';
        await sleep(fault.latencyMs);
      }
      if (fault?.reset) {
        record.fault = 'reset';
        req.socket.resetAndDestroy();
        return;
      }
      if (fault?.status) {
        record.fault = 'status';
        throw injectedStatus(fault.status, fault.retryAfterSeconds);
      }
      if (req.headers.authorization !== `Bearer ${ctx.token}`) throw unauthorized();
      if (path === '/version') return send(res, (record.status = 200, { status: 200, body: { major: '1', minor: '31', gitVersion: 'v1.31.0-kube-double', platform: 'linux/amd64' } }));
      if (path === '/healthz' || path === '/livez' || path === '/readyz') return send(res, (record.status = 200, { status: 200, body: 'ok', text: true }));
      const doc = method === 'GET' ? discovery(path, ctx.metricsEnabled(), ctx.serverAddress()) : undefined;
      if (doc) return send(res, (record.status = 200, { status: 200, body: doc }));
      const route = parseRoute(path, ctx.metricsEnabled());
      if (!route || (route.def.namespaced && route.namespace === undefined && route.name !== undefined)) throw unknownPath();
      const reply = await resourceRequest(ctx, req, route, url.searchParams, record);
      record.status = reply.status;
      send(res, reply);
    } catch (err) {
      const status: StatusBody = isStatusError(err) ? err.status : injectedStatus(500, undefined).status;
      if (!isStatusError(err)) status.message = `Internal error occurred: ${(err as Error).message}`;
      record.status = status.code;
      if (!res.headersSent && !req.socket.destroyed) send(res, { status: status.code, body: status }, isStatusError(err) ? err.headers : undefined);
    }
  };
}
