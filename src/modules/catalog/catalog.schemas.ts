import { listQuery } from '../../lib/http/index.js';
import { HIDDEN_TEXT_MESSAGE, isVisibleText } from '../../lib/text.js';
import { z } from '../../lib/zod.js';
import { labelKey, labelsSchema, labelValue, TAINT_EFFECTS } from '../workers/index.js';
import { parseQuantity, type QuantityKind } from './quantities.js';

export const SERVICE_STATUSES = ['ACTIVE', 'INACTIVE', 'DEPRECATED'] as const;
const MAX_INT4 = 2_147_483_647;
const MAX_ENV_VARS = 64;
const MAX_ENV_BYTES = 32 * 1024;

// The grammar of github.com/distribution/reference: [registry[:port]/]path[:tag][@digest].
const DOMAIN = String.raw`(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?`;
const PATH_COMPONENT = String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`;
const TAG = String.raw`[\w][\w.-]{0,127}`;
const DIGEST = String.raw`[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}`;
const IMAGE_REFERENCE = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::${TAG})?(?:@${DIGEST})?$`);

const EXAMPLES: Record<QuantityKind, string> = { cpu: '500m', memory: '512Mi', storage: '10Gi' };
const HUMAN: Record<QuantityKind, string> = { cpu: '"1 vCPU"', memory: '"1GB RAM"', storage: '"10GB SSD"' };

/** A resource size: a Kubernetes quantity or a human string ("1 vCPU", "1GB RAM"); output is canonical. */
const quantity = (kind: QuantityKind) =>
  z
    .union([z.string().max(40), z.number()])
    .openapi({ type: 'string', example: EXAMPLES[kind], description: `Kubernetes ${kind} quantity, or a human size such as ${HUMAN[kind]}` })
    .transform((value, ctx) => {
      const result = parseQuantity(kind, value);
      if (result.ok) return result.quantity;
      ctx.addIssue({ code: 'custom', message: result.message });
      return z.NEVER;
    });

const text = (max: number) => z.string().trim().min(1).max(max);
// A name that could hide a character could look exactly like another service's.
const visibleText = (max: number) => text(max).refine(isVisibleText, HIDDEN_TEXT_MESSAGE);
const nullableText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .transform((s) => (s === '' ? null : s))
    .nullable();

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

const environmentVars = z
  .record(z.string(), z.string().max(4096))
  .superRefine((env, ctx) => {
    const names = Object.keys(env);
    // Checked here rather than with a key schema so the error names the variable and says what is wrong.
    for (const key of names) if (!ENV_NAME.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'Environment variable names are letters, digits and underscores, not starting with a digit (at most 128)' });
    if (names.length > MAX_ENV_VARS) ctx.addIssue({ code: 'custom', message: `At most ${MAX_ENV_VARS} environment variables` });
    else if (Buffer.byteLength(JSON.stringify(env)) > MAX_ENV_BYTES) ctx.addIssue({ code: 'custom', message: `Environment variables may take at most ${MAX_ENV_BYTES / 1024} KiB in total` });
  })
  .openapi({ example: { TZ: 'Asia/Jakarta' } });

/** Writable fields; both the README body (pricing, resources, status) and the flat dashboard body. */
const fields = {
  name: visibleText(100).openapi({ example: 'N8N Automation', description: 'Unique, compared after Unicode NFKC normalization and case folding' }),
  displayName: visibleText(100).openapi({ description: 'Defaults to name' }),
  description: nullableText(2000),
  category: text(50)
    .toLowerCase()
    .regex(/^[a-z0-9]+(?:[ _-][a-z0-9]+)*$/, 'Use letters, digits, spaces, hyphens or underscores')
    .openapi({ example: 'automation', description: 'Stored lower-cased' }),
  version: text(50).regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'Use a version such as 1.0.0, 5 or latest'),
  status: z.enum(SERVICE_STATUSES),
  isActive: z.boolean().openapi({ description: 'Shorthand for status: true = ACTIVE, false = INACTIVE' }),
  pricing: z.strictObject({
    monthly: z.number().int().min(0).max(MAX_INT4).openapi({ description: 'Integer amount in the smallest unit of the currency', example: 25000 }),
    currency: z
      .string()
      .regex(/^[A-Za-z]{3}$/)
      .transform((c) => c.toUpperCase())
      .optional()
      .openapi({ description: 'Must be the configured currency when sent' }),
  }),
  monthlyPrice: z.number().int().min(0).max(MAX_INT4).openapi({ description: 'Same as pricing.monthly' }),
  resources: z.strictObject({
    cpu: quantity('cpu').optional().openapi({ description: 'Sets cpuRequest and cpuLimit unless those are sent', example: '1 vCPU' }),
    memory: quantity('memory').optional().openapi({ description: 'Sets memRequest and memLimit unless those are sent', example: '1GB RAM' }),
    storage: quantity('storage').nullable().optional().describe('Storage size; null clears it'),
  }),
  cpuRequest: quantity('cpu'),
  cpuLimit: quantity('cpu'),
  memRequest: quantity('memory'),
  memLimit: quantity('memory'),
  storage: quantity('storage').nullable().describe('Same as resources.storage; null clears it'),
  dockerImage: z
    .string()
    .trim()
    .max(255)
    .regex(IMAGE_REFERENCE, 'Not a valid image reference (e.g. n8nio/n8n, ghost:5-alpine, ghcr.io/org/app:1.2)')
    .nullable()
    .openapi({ example: 'n8nio/n8n:latest' }),
  containerPort: z.number().int().min(1).max(65535).nullable().openapi({ example: 5678 }),
  environmentVars,
  planGroup: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'Use lower-case letters, digits and hyphens')
    .max(50)
    .nullable()
    .openapi({ example: 'ghost', description: 'Services of one group (e.g. ghost-small, ghost-large) are plans a subscription can switch between' }),
  maxInstances: z.number().int().min(1).max(1_000_000).nullable().openapi({ description: 'How many live subscriptions the service may have; null: unlimited' }),
  healthPath: z
    .string()
    .trim()
    .max(200)
    .regex(/^\/[\x21-\x7e]*$/, 'An HTTP path starting with /')
    .nullable()
    .openapi({ example: '/healthz', description: 'HTTP readiness probe; a TCP probe on the port when null' }),
  dataMountPath: z
    .string()
    .trim()
    .max(200)
    .regex(/^\/(?:[A-Za-z0-9._-]+\/?)+$/, 'An absolute directory path such as /var/lib/ghost/content')
    .refine((p) => !p.split('/').includes('..') && !['/', '/proc', '/sys', '/dev', '/etc'].includes(p.replace(/\/$/, '') || '/'), 'Not a system directory')
    .nullable()
    .openapi({ example: '/home/node/.n8n', description: 'Where the app keeps its data: a persistent volume (the storage size) is mounted there' }),
  nodeSelector: labelsSchema.openapi({ description: 'Kubernetes nodeSelector: node labels the app needs' }),
  tolerations: z
    .array(
      z
        .strictObject({
          key: labelKey.optional(),
          operator: z.enum(['Exists', 'Equal']).optional(),
          value: labelValue.optional(),
          effect: z.enum(TAINT_EFFECTS).optional(),
          tolerationSeconds: z.number().int().min(0).max(86_400 * 365).optional(),
        })
        .refine((t) => t.operator !== 'Exists' || t.value === undefined, { message: 'operator Exists takes no value', path: ['value'] })
        .refine((t) => t.key !== undefined || t.operator === 'Exists', { message: 'a toleration without a key must use operator Exists', path: ['key'] })
        .refine((t) => t.tolerationSeconds === undefined || t.effect === 'NoExecute', { message: 'tolerationSeconds only applies to effect NoExecute', path: ['tolerationSeconds'] }),
    )
    .max(20)
    .openapi({ description: 'Kubernetes tolerations of the app\'s pods' }),
};

type WriteBody = { [K in keyof typeof fields]?: z.output<(typeof fields)[K]> };

/** Checks that need two fields; the ones that need the stored row live in catalog.input.ts. */
function consistency(body: WriteBody, ctx: z.RefinementCtx) {
  if (body.isActive !== undefined && body.status !== undefined && body.isActive !== (body.status === 'ACTIVE')) {
    ctx.addIssue({ code: 'custom', path: ['isActive'], message: `isActive ${body.isActive} contradicts status ${body.status}; send one of them` });
  }
  if (body.monthlyPrice !== undefined && body.pricing !== undefined && body.monthlyPrice !== body.pricing.monthly) {
    ctx.addIssue({ code: 'custom', path: ['monthlyPrice'], message: 'monthlyPrice differs from pricing.monthly; send one of them' });
  }
  const nested = body.resources?.storage;
  if (nested !== undefined && body.storage !== undefined && nested !== body.storage) {
    ctx.addIssue({ code: 'custom', path: ['storage'], message: 'storage differs from resources.storage; send one of them' });
  }
}

const writable = z.strictObject(fields).partial();

export const createServiceBody = writable
  .extend({ name: fields.name, category: fields.category, version: fields.version })
  .superRefine(consistency)
  .openapi('CreateServiceInput', {
    description: 'Price (pricing.monthly or monthlyPrice), CPU (resources.cpu or cpuRequest/cpuLimit) and memory (resources.memory or memRequest/memLimit) are required.',
  });

export const updateServiceBody = writable
  .extend({
    slug: z
      .unknown()
      .refine((v) => v === undefined, 'slug is immutable: it is derived from the name when the service is created')
      .optional()
      .openapi({ description: 'Not accepted: slugs are immutable' }),
  })
  .superRefine(consistency)
  .refine((body) => Object.values(body).some((v) => v !== undefined), 'Send at least one field to update')
  .openapi('UpdateServiceInput');

export type CreateServiceInput = z.output<typeof createServiceBody>;
export type UpdateServiceInput = z.output<typeof updateServiceBody>;

const filters = {
  category: z.string().trim().toLowerCase().max(50).optional(),
};

export const publicListQuery = listQuery(['name', 'monthlyPrice', 'category', 'createdAt'], 'name').extend({
  ...filters,
  sortOrder: z.enum(['asc', 'desc']).default('asc'),
});

export const adminListQuery = listQuery(['createdAt', 'updatedAt', 'name', 'category', 'monthlyPrice', 'status'], 'createdAt').extend({
  ...filters,
  status: z.enum(SERVICE_STATUSES).optional(),
});

export type PublicListQuery = z.output<typeof publicListQuery>;
export type AdminListQuery = z.output<typeof adminListQuery>;

export const idParams = z.strictObject({ id: z.string().min(1).max(64) });
export const idOrSlugParams = z.strictObject({ idOrSlug: z.string().min(1).max(100).openapi({ description: 'Service id or slug' }) });
