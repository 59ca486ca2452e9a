import { paginationSchema } from '../../lib/http/index.js';
import { z } from '../../lib/zod.js';
import type { ServiceCatalog } from '../../generated/prisma/client.js';
import { SERVICE_STATUSES } from './catalog.schemas.js';

/** A row with its subscription count, as the administrator queries load it. */
export type ServiceRow = ServiceCatalog & { _count: { subscriptions: number } };

// Allow-lists: a column added to the table stays private until it is added here.
/** The fields the public view reads: all a customer may see of a service. */
export type PublicServiceRow = Pick<ServiceCatalog, 'id' | 'name' | 'slug' | 'displayName' | 'description' | 'category' | 'version' | 'monthlyPrice' | 'currency' | 'cpuLimit' | 'memLimit' | 'storage'>;

export function toPublicService(row: PublicServiceRow) {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    displayName: row.displayName,
    description: row.description,
    category: row.category,
    version: row.version,
    pricing: { monthly: row.monthlyPrice, currency: row.currency },
    monthlyPrice: row.monthlyPrice,
    // The most a service may use: with a single size ("1 vCPU") request and limit are equal.
    resources: { cpu: row.cpuLimit, memory: row.memLimit, storage: row.storage },
  };
}

export function toAdminService(row: ServiceRow) {
  return {
    ...toPublicService(row),
    status: row.status,
    isActive: row.status === 'ACTIVE',
    deployable: row.dockerImage !== null && row.containerPort !== null,
    dockerImage: row.dockerImage,
    containerPort: row.containerPort,
    cpuRequest: row.cpuRequest,
    cpuLimit: row.cpuLimit,
    memRequest: row.memRequest,
    memLimit: row.memLimit,
    storage: row.storage,
    environmentVars: envOf(row.environmentVars),
    planGroup: row.planGroup,
    maxInstances: row.maxInstances,
    healthPath: row.healthPath,
    dataMountPath: row.dataMountPath,
    nodeSelector: envOf(row.nodeSelector),
    tolerations: Array.isArray(row.tolerations) ? (row.tolerations as Record<string, unknown>[]) : [],
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    _count: { subscriptions: row._count.subscriptions },
  };
}

/** Only string values leave the table, whatever a manual edit put into the JSON column. */
function envOf(value: unknown): Record<string, string> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

const quantity = z.string().openapi({ description: 'Kubernetes quantity' });

export const publicServiceSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    slug: z.string(),
    displayName: z.string(),
    description: z.string().nullable(),
    category: z.string(),
    version: z.string(),
    pricing: z.object({ monthly: z.number().int(), currency: z.string() }),
    monthlyPrice: z.number().int(),
    resources: z.object({ cpu: quantity, memory: quantity, storage: quantity.nullable() }),
  })
  .openapi('PublicService');

export const adminServiceSchema = publicServiceSchema
  .extend({
    status: z.enum(SERVICE_STATUSES),
    isActive: z.boolean(),
    deployable: z.boolean().openapi({ description: 'Has a Docker image and a container port; services without them cannot be subscribed to' }),
    dockerImage: z.string().nullable(),
    containerPort: z.number().int().nullable(),
    cpuRequest: quantity,
    cpuLimit: quantity,
    memRequest: quantity,
    memLimit: quantity,
    storage: quantity.nullable(),
    environmentVars: z.record(z.string(), z.string()),
    planGroup: z.string().nullable(),
    maxInstances: z.number().int().nullable(),
    healthPath: z.string().nullable(),
    dataMountPath: z.string().nullable(),
    nodeSelector: z.record(z.string(), z.string()),
    tolerations: z.array(z.object({ key: z.string().optional(), operator: z.string().optional(), value: z.string().optional(), effect: z.string().optional(), tolerationSeconds: z.number().int().optional() })),
    createdAt: z.string().openapi({ format: 'date-time' }),
    updatedAt: z.string().openapi({ format: 'date-time' }),
    _count: z.object({ subscriptions: z.number().int() }),
  })
  .openapi('AdminService');

export const publicListSchema = z.object({ services: z.array(publicServiceSchema), pagination: paginationSchema });
export const adminListSchema = z.object({ services: z.array(adminServiceSchema), pagination: paginationSchema });

const countSchema = z.number().int();
export const statsSchema = z.object({
  total: countSchema,
  active: countSchema,
  byStatus: z.object({ ACTIVE: countSchema, INACTIVE: countSchema, DEPRECATED: countSchema }),
  byCategory: z.array(z.object({ category: z.string(), total: countSchema, active: countSchema })),
  deployable: countSchema.openapi({ description: 'Services with a Docker image' }),
  withSubscriptions: countSchema.openapi({ description: 'Services referenced by at least one subscription' }),
  pricing: z.object({
    currency: z.string(),
    min: z.number().int().nullable(),
    max: z.number().int().nullable(),
    average: z.number().int().nullable().openapi({ description: 'Rounded to a whole amount' }),
  }),
});

export const categoriesSchema = z.object({ categories: z.array(z.object({ category: z.string(), count: countSchema })) });
export const deletedSchema = z.object({ id: z.string() });
