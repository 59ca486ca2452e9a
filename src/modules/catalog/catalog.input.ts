import type { Prisma } from '../../lib/db.js';
import { badRequest, type FieldError } from '../../lib/errors/index.js';
import { nameKeyOf } from '../../lib/text.js';
import type { ServiceStatus } from '../../generated/prisma/enums.js';
import type { CreateServiceInput, UpdateServiceInput } from './catalog.schemas.js';
import { quantityAmount, type QuantityKind } from './quantities.js';

/** The stored values an update is merged with. */
export interface StoredService {
  status: ServiceStatus;
  cpuRequest: string;
  cpuLimit: string;
  memRequest: string;
  memLimit: string;
}

/** Columns a write sets; undefined means "leave as is". */
export interface ServiceWrite {
  name?: string;
  /** Set with name: the unique key that compares names as people read them. */
  nameKey?: string;
  displayName?: string;
  description?: string | null;
  category?: string;
  version?: string;
  status?: ServiceStatus;
  monthlyPrice?: number;
  cpuRequest?: string;
  cpuLimit?: string;
  memRequest?: string;
  memLimit?: string;
  storage?: string | null;
  dockerImage?: string | null;
  containerPort?: number | null;
  environmentVars?: Record<string, string>;
  planGroup?: string | null;
  maxInstances?: number | null;
  healthPath?: string | null;
  dataMountPath?: string | null;
  nodeSelector?: Record<string, string>;
  tolerations?: Prisma.InputJsonValue;
}

interface Pair {
  request?: string;
  limit?: string;
  /** The body field to name when the limit ends up below the request. */
  limitField: string;
}

/**
 * One size (`resources.cpu`) sets both request and limit; an explicit `cpuRequest`/`cpuLimit` wins
 * over it. When only one side is known the other takes the same value, as Kubernetes does when a
 * limit comes without a request.
 */
function pair(single: string | undefined, request: string | undefined, limit: string | undefined, names: { single: string; request: string; limit: string }): Pair {
  return {
    request: request ?? single ?? limit,
    limit: limit ?? single ?? request,
    limitField: limit !== undefined ? names.limit : single !== undefined ? names.single : names.request,
  };
}

function checkOrder(kind: QuantityKind, request: string | undefined, limit: string | undefined, p: Pair, errors: FieldError[]) {
  if (request === undefined || limit === undefined) return;
  if (quantityAmount(kind, limit) < quantityAmount(kind, request)) {
    errors.push({ field: p.limitField, message: `The ${kind === 'cpu' ? 'CPU' : kind} limit (${limit}) is below the request (${request}); a limit must be at least the request` });
  }
}

function statusOf(body: UpdateServiceInput, current: StoredService | null): ServiceStatus | undefined {
  if (body.status !== undefined) return body.status;
  if (body.isActive === undefined) return undefined;
  if (body.isActive) return 'ACTIVE';
  // isActive: false keeps DEPRECATED, which is already not active.
  return current?.status === 'DEPRECATED' ? 'DEPRECATED' : 'INACTIVE';
}

export type ServiceCreate = ServiceWrite & Required<Pick<ServiceWrite, 'name' | 'nameKey' | 'displayName' | 'category' | 'version' | 'status' | 'monthlyPrice' | 'cpuRequest' | 'cpuLimit' | 'memRequest' | 'memLimit'>>;

export function toCreateData(body: CreateServiceInput, currency: string): ServiceCreate {
  // resolve() throws when a required value is missing, so every field of ServiceCreate is set here.
  return resolve(body, null, currency) as ServiceCreate;
}

export const toUpdateData = (body: UpdateServiceInput, current: StoredService, currency: string): ServiceWrite => resolve(body, current, currency);

/**
 * Turns a create or update body into columns, merged with the stored row on update so that a new
 * limit is checked against the stored request. All problems are reported together.
 */
function resolve(body: CreateServiceInput | UpdateServiceInput, current: StoredService | null, currency: string): ServiceWrite {
  const errors: FieldError[] = [];
  if (body.pricing?.currency !== undefined && body.pricing.currency !== currency) {
    errors.push({ field: 'pricing.currency', message: `Prices are in ${currency}, the configured currency` });
  }

  const cpu = pair(body.resources?.cpu, body.cpuRequest, body.cpuLimit, { single: 'resources.cpu', request: 'cpuRequest', limit: 'cpuLimit' });
  const mem = pair(body.resources?.memory, body.memRequest, body.memLimit, { single: 'resources.memory', request: 'memRequest', limit: 'memLimit' });
  const monthlyPrice = body.monthlyPrice ?? body.pricing?.monthly;

  if (!current) {
    if (monthlyPrice === undefined) errors.push({ field: 'pricing.monthly', message: 'A monthly price is required (pricing.monthly or monthlyPrice)' });
    if (cpu.request === undefined) errors.push({ field: 'resources.cpu', message: 'CPU is required (resources.cpu, or cpuRequest and cpuLimit)' });
    if (mem.request === undefined) errors.push({ field: 'resources.memory', message: 'Memory is required (resources.memory, or memRequest and memLimit)' });
  }
  // On update a side that is not sent keeps its stored value rather than copying the other side.
  const cpuRequest = current ? (body.cpuRequest ?? body.resources?.cpu) : cpu.request;
  const cpuLimit = current ? (body.cpuLimit ?? body.resources?.cpu) : cpu.limit;
  const memRequest = current ? (body.memRequest ?? body.resources?.memory) : mem.request;
  const memLimit = current ? (body.memLimit ?? body.resources?.memory) : mem.limit;
  checkOrder('cpu', cpuRequest ?? current?.cpuRequest, cpuLimit ?? current?.cpuLimit, cpu, errors);
  checkOrder('memory', memRequest ?? current?.memRequest, memLimit ?? current?.memLimit, mem, errors);

  if (errors.length > 0) throw badRequest(`Validation failed: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors);

  return {
    name: body.name,
    nameKey: body.name === undefined ? undefined : nameKeyOf(body.name),
    displayName: body.displayName ?? (current ? undefined : body.name),
    description: body.description,
    category: body.category,
    version: body.version,
    status: statusOf(body, current) ?? (current ? undefined : 'ACTIVE'),
    monthlyPrice,
    cpuRequest,
    cpuLimit,
    memRequest,
    memLimit,
    storage: body.storage !== undefined ? body.storage : body.resources?.storage,
    dockerImage: body.dockerImage,
    containerPort: body.containerPort,
    environmentVars: body.environmentVars,
    planGroup: body.planGroup,
    maxInstances: body.maxInstances,
    healthPath: body.healthPath,
    dataMountPath: body.dataMountPath,
    nodeSelector: body.nodeSelector,
    tolerations: body.tolerations as Prisma.InputJsonValue | undefined,
  };
}
