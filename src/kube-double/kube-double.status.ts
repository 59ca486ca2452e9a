import type { ResourceDef } from './kube-double.resources.js';

/** A Kubernetes `Status` body, the shape every API error (and a successful delete) answers with. */
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** An error the request handler answers with as a Status (plain Error plus the body; no class of its own). */
export type StatusError = Error & { status: StatusBody; headers?: Record<string, string> };

export function statusError(code: number, reason: string, message: string, details?: StatusDetails, headers?: Record<string, string>): StatusError {
  const body: StatusBody = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) body.details = details;
  return Object.assign(new Error(message), { status: body, headers });
}

export const isStatusError = (err: unknown): err is StatusError =>
  err instanceof Error && typeof (err as { status?: { kind?: unknown } }).status === 'object' && (err as StatusError).status.kind === 'Status';

/** `deployments.apps`, or `namespaces` for the core group: how Kubernetes names a resource in messages. */
export const qualified = (def: ResourceDef) => (def.group ? `${def.plural}.${def.group}` : def.plural);

const detailsOf = (def: ResourceDef, name: string, causes?: StatusCause[]): StatusDetails => ({
  name,
  ...(def.group ? { group: def.group } : {}),
  kind: def.plural,
  ...(causes ? { causes } : {}),
});

export const notFound = (def: ResourceDef, name: string) => statusError(404, 'NotFound', `${qualified(def)} "${name}" not found`, detailsOf(def, name));

export const alreadyExists = (def: ResourceDef, name: string) =>
  statusError(409, 'AlreadyExists', `${qualified(def)} "${name}" already exists`, detailsOf(def, name));

export const staleResourceVersion = (def: ResourceDef, name: string) =>
  statusError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(def)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    detailsOf(def, name),
  );

export interface FieldConflict {
  manager: string;
  apiVersion: string;
  field: string;
}

/** Server-side apply's conflict answer, worded as the API server words it. */
export function applyConflict(def: ResourceDef, name: string, conflicts: FieldConflict[]): StatusError {
  const byManager = new Map<string, FieldConflict[]>();
  for (const c of conflicts) byManager.set(`${c.manager}\u0000${c.apiVersion}`, [...(byManager.get(`${c.manager}\u0000${c.apiVersion}`) ?? []), c]);
  const lines = [...byManager.values()].map((list) => {
    const { manager, apiVersion } = list[0] as FieldConflict;
    return list.length === 1
      ? `conflict with "${manager}" using ${apiVersion}: ${list[0]?.field}`
      : `conflicts with "${manager}" using ${apiVersion}:\n${list.map((c) => `- ${c.field}`).join('\n')}`;
  });
  const count = conflicts.length;
  const message = `Apply failed with ${count} conflict${count === 1 ? '' : 's'}: ${lines.join('\n')}`;
  const causes = conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${c.apiVersion}`, field: c.field }));
  return statusError(409, 'Conflict', message, detailsOf(def, name, causes));
}

export function invalid(def: ResourceDef, name: string, causes: StatusCause[]): StatusError {
  const kindGroup = def.group ? `${def.kind}.${def.group}` : def.kind;
  const text = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  const message = `${kindGroup} "${name}" is invalid: ${causes.length > 1 ? `[${text}]` : text}`;
  return statusError(422, 'Invalid', message, { name, ...(def.group ? { group: def.group } : {}), kind: def.kind, causes });
}

export function namespaceTerminating(def: ResourceDef, name: string, namespace: string): StatusError {
  return statusError(
    403,
    'Forbidden',
    `${qualified(def)} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
    detailsOf(def, name, [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }]),
  );
}

export const namespaceNotFound = (namespace: string) =>
  statusError(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });

export const badRequest = (message: string) => statusError(400, 'BadRequest', message);

export const unknownPath = () => statusError(404, 'NotFound', 'the server could not find the requested resource', {});

export const methodNotAllowed = (method: string) => statusError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${method})`, {});

export const unsupportedMediaType = (type: string) =>
  statusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/apply-patch+yaml, application/merge-patch+json (got ${type || 'none'})`);

export const unauthorized = () => statusError(401, 'Unauthorized', 'Unauthorized');

/** The bodies fault injection answers with, as the API server (or its priority and fairness filter) sends them. */
export function injectedStatus(code: number, retryAfterSeconds: number | undefined): StatusError {
  const headers = retryAfterSeconds === undefined ? undefined : { 'Retry-After': String(retryAfterSeconds) };
  const retry = retryAfterSeconds === undefined ? {} : { retryAfterSeconds };
  switch (code) {
    case 429:
      return statusError(429, 'TooManyRequests', 'Too many requests, please try again later.', { ...retry }, headers);
    case 500:
      return statusError(500, 'InternalError', 'Internal error occurred: injected fault', { causes: [{ message: 'injected fault' }], ...retry }, headers);
    case 503:
      return statusError(503, 'ServiceUnavailable', 'The server is currently unable to handle the request', { ...retry }, headers);
    case 504:
      return statusError(504, 'Timeout', 'Timeout: request did not complete within the allowed duration', { ...retry }, headers);
    default:
      return statusError(code, 'Unknown', `injected status ${code}`, { ...retry }, headers);
  }
}
