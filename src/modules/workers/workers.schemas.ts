import { isIP } from 'node:net';
import { listQuery, paginationSchema, queryBool } from '../../lib/http/index.js';
import { z } from '../../lib/zod.js';
import { cores, MAX_CORES, megabytes } from './workers.quantities.js';

export const NODE_STATUSES = ['ACTIVE', 'INACTIVE', 'MAINTENANCE', 'PENDING', 'NOT_READY'] as const;
export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

// Kubernetes object names and label syntax (apimachinery validation: IsDNS1123Subdomain, IsQualifiedName, IsValidLabelValue).
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const dnsMessage = 'must be a lower-case DNS name: letters, digits, "-" and ".", starting and ending with a letter or digit';

export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return `label key prefix "${prefix}" must be a lower-case DNS subdomain of at most 253 characters`;
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return `label key name "${name}" must be 1-63 characters of letters, digits, "-", "_" and ".", starting and ending with a letter or digit`;
  }
  return undefined;
}

export const labelKey = z.string().superRefine((key, ctx) => {
  const problem = labelKeyProblem(key);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
export const labelValue = z
  .string()
  .max(63, 'label values are at most 63 characters')
  .regex(new RegExp(`^$|${LABEL_NAME.source}`), 'label values are empty or letters, digits, "-", "_" and ".", starting and ending with a letter or digit');

export const labelsSchema = z
  .record(z.string(), labelValue)
  .superRefine((labels, ctx) => {
    const keys = Object.keys(labels);
    if (keys.length > 64) ctx.addIssue({ code: 'custom', message: 'at most 64 labels' });
    for (const key of keys) {
      const problem = labelKeyProblem(key);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [key] });
    }
  })
  .openapi({ type: 'object', additionalProperties: { type: 'string' }, example: { 'topology.kubernetes.io/zone': 'us-west-1a' } });

const taintSchema = z.strictObject({ key: labelKey, value: labelValue.optional(), effect: z.enum(TAINT_EFFECTS) });
export const taintsSchema = z
  .array(taintSchema)
  .max(50)
  .superRefine((taints, ctx) => {
    const seen = new Set<string>();
    taints.forEach((t, i) => {
      const id = `${t.key}:${t.effect}`;
      if (seen.has(id)) ctx.addIssue({ code: 'custom', message: `duplicate taint ${id}: key and effect must be unique together`, path: [i] });
      seen.add(id);
    });
  });

const text = (max: number) => z.string().trim().min(1).max(max);
// These names are routes of their own (/workers/stats...): a node called so could not be fetched by name.
const RESERVED_NAMES = ['stats', 'online', 'offline'];
const nodeName = text(253)
  .regex(DNS_SUBDOMAIN, dnsMessage)
  .refine((name) => !RESERVED_NAMES.includes(name), `must not be one of ${RESERVED_NAMES.join(', ')}`);
// Host names are case-insensitive: stored lower-cased so the unique index means what it says.
const hostname = text(253).toLowerCase().regex(DNS_SUBDOMAIN, dnsMessage);
const ipAddress = text(45).refine((v) => isIP(v) !== 0, 'must be an IPv4 or IPv6 address');
const cpuCores = z.number().int().min(1).max(MAX_CORES);
const capacityMb = megabytes.refine((mb) => mb > 0n, 'must be greater than 0');
const maxPods = z.number().int().min(1).max(10_000);
const count = z.number().int().min(0).max(1_000_000);

const nodeInfo = {
  kubeletVersion: text(64),
  containerRuntime: text(128),
  kernelVersion: text(128),
  osImage: text(128),
};
const nodeFacts = { architecture: text(32), cpuArchitecture: text(32), operatingSystem: text(128) };

const createShape = {
  name: nodeName,
  hostname,
  ipAddress,
  cpuCores,
  totalMemory: capacityMb,
  totalStorage: capacityMb,
  ...nodeFacts,
  maxPods: maxPods.optional(),
  isSchedulable: z.boolean().optional(),
  labels: labelsSchema.optional(),
  taints: taintsSchema.optional(),
  kubeletVersion: nodeInfo.kubeletVersion.optional(),
  containerRuntime: nodeInfo.containerRuntime.optional(),
  kernelVersion: nodeInfo.kernelVersion.optional(),
  osImage: nodeInfo.osImage.optional(),
};

export const createNodeBody = z.strictObject(createShape).openapi('CreateWorkerNode');

export const updateNodeBody = z
  .strictObject(createShape)
  .partial()
  .extend({
    kubeletVersion: nodeInfo.kubeletVersion.nullable().optional(),
    containerRuntime: nodeInfo.containerRuntime.nullable().optional(),
    kernelVersion: nodeInfo.kernelVersion.nullable().optional(),
    osImage: nodeInfo.osImage.nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'send at least one field to change')
  .openapi('UpdateWorkerNode');

const usage = {
  allocatedCPU: cores.optional(),
  allocatedMemory: megabytes.optional(),
  allocatedStorage: megabytes.optional(),
  currentPods: count.optional(),
};

export const resourcesBody = z
  .strictObject(usage)
  .refine((b) => Object.keys(b).length > 0, 'report at least one of allocatedCPU, allocatedMemory, allocatedStorage, currentPods')
  .openapi('WorkerNodeResources');

/**
 * What a node agent may say about itself, like a kubelet's node status: readiness, usage,
 * capacity and node info. Everything is optional; an empty body is a plain liveness signal.
 */
export const heartbeatBody = z
  .strictObject({
    isReady: z.boolean().optional(),
    reason: text(500).optional(),
    ...usage,
    cpuCores: cpuCores.optional(),
    totalMemory: capacityMb.optional(),
    totalStorage: capacityMb.optional(),
    architecture: nodeFacts.architecture.optional(),
    cpuArchitecture: nodeFacts.cpuArchitecture.optional(),
    operatingSystem: nodeFacts.operatingSystem.optional(),
    kubeletVersion: nodeInfo.kubeletVersion.optional(),
    containerRuntime: nodeInfo.containerRuntime.optional(),
    kernelVersion: nodeInfo.kernelVersion.optional(),
    osImage: nodeInfo.osImage.optional(),
  })
  .openapi('WorkerNodeHeartbeat');

export const statusBody = z.strictObject({ status: z.enum(NODE_STATUSES), reason: text(500).optional() });
export const schedulableBody = z.strictObject({ isSchedulable: z.boolean().optional() });
export const nodeParams = z.strictObject({ nodeId: z.string().min(1).max(253).openapi({ description: 'Node id or name' }) });

export const SORT_FIELDS = ['name', 'hostname', 'createdAt', 'updatedAt', 'lastHeartbeat', 'cpuCores', 'totalMemory', 'totalStorage', 'allocatedCPU', 'allocatedMemory', 'currentPods', 'status'] as const;
const filters = { status: z.enum(NODE_STATUSES).optional(), isSchedulable: queryBool.optional(), isReady: queryBool.optional() };
export const listNodesQuery = listQuery(SORT_FIELDS, 'createdAt').extend(filters);
export const livenessQuery = listQuery(SORT_FIELDS, 'lastHeartbeat').extend(filters);

export type CreateNodeInput = z.output<typeof createNodeBody>;
export type UpdateNodeInput = z.output<typeof updateNodeBody>;
export type HeartbeatInput = z.output<typeof heartbeatBody>;
export type ResourcesInput = z.output<typeof resourcesBody>;
export type ListNodesQuery = z.output<typeof listNodesQuery>;

// ---- Responses (documentation of the wire format; BigInt columns are decimal strings) ----

const mbString = z.string().openapi({ description: 'MB (2^20 bytes) as a decimal string', example: '32768' });

export const nodeSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    hostname: z.string(),
    ipAddress: z.string(),
    cpuCores: z.number().int(),
    cpuArchitecture: z.string(),
    totalMemory: mbString,
    totalStorage: mbString,
    architecture: z.string(),
    operatingSystem: z.string(),
    status: z.enum(NODE_STATUSES),
    statusReason: z.string().nullable(),
    isReady: z.boolean(),
    isSchedulable: z.boolean(),
    maxPods: z.number().int(),
    currentPods: z.number().int(),
    allocatedCPU: z.number(),
    allocatedMemory: mbString,
    allocatedStorage: mbString,
    labels: z.record(z.string(), z.string()),
    taints: z.array(z.object({ key: z.string(), value: z.string().optional(), effect: z.enum(TAINT_EFFECTS) })),
    kubeletVersion: z.string().nullable(),
    containerRuntime: z.string().nullable(),
    kernelVersion: z.string().nullable(),
    osImage: z.string().nullable(),
    lastHeartbeat: z.string().nullable().openapi({ description: 'null until the node sends its first heartbeat' }),
    lastHealthCheck: z.string(),
    secondsSinceHeartbeat: z.number().int().nullable(),
    isOnline: z.boolean().openapi({ description: 'A heartbeat arrived within the grace period (false for a node that never sent one)' }),
    hasAgentToken: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('WorkerNode');

export const nodeListSchema = z.object({ workers: z.array(nodeSchema), pagination: paginationSchema });
export const nodeDataSchema = z.object({ node: nodeSchema });
const INSTANCE_STATUSES = ['PENDING', 'PROVISIONING', 'RUNNING', 'DEGRADED', 'STOPPED', 'FAILED', 'DELETING', 'DELETED'] as const;
export const nodeDetailSchema = nodeDataSchema.extend({
  instances: z
    .array(z.object({ id: z.string(), status: z.enum(INSTANCE_STATUSES), url: z.string(), subscriptionId: z.string() }))
    .openapi({ description: 'The instances Kubernetes placed on this node (their pod runs there), oldest first' }),
});
// The node's fields at the top of `data`, as the original API returned them, and the token beside them.
export const nodeWithTokenSchema = nodeSchema
  .extend({ agentToken: z.string().openapi({ description: 'Bearer token of the node agent. Shown once: only its SHA-256 is stored.' }) })
  .openapi('WorkerNodeWithAgentToken');

export const heartbeatResultSchema = z.object({
  id: z.string(),
  status: z.enum(NODE_STATUSES),
  isReady: z.boolean(),
  lastHeartbeat: z.string(),
  heartbeatIntervalSeconds: z.number().int().openapi({ description: 'How often the agent should send heartbeats' }),
});

export const resourcesResultSchema = z.object({
  id: z.string(),
  cpuCores: z.number().int(),
  allocatedCPU: z.number(),
  totalMemory: mbString,
  allocatedMemory: mbString,
  totalStorage: mbString,
  allocatedStorage: mbString,
  maxPods: z.number().int(),
  currentPods: z.number().int(),
});

const percent = z.number().openapi({ description: 'Percent of capacity, two decimals' });
export const statsSchema = z.object({
  computedAt: z.iso.datetime().openapi({
    description: 'When these figures were computed: online means a heartbeat within heartbeatGraceSeconds before it. At most WORKER_STATS_MAX_AGE_MS (default 2 s) old; one snapshot serves every request meanwhile.',
  }),
  total: z.number().int(),
  byStatus: z.object(Object.fromEntries(NODE_STATUSES.map((s) => [s, z.number().int()])) as Record<(typeof NODE_STATUSES)[number], z.ZodNumber>),
  ready: z.number().int(),
  notReady: z.number().int(),
  schedulable: z.number().int(),
  unschedulable: z.number().int(),
  online: z.number().int(),
  offline: z.number().int(),
  heartbeatGraceSeconds: z.number().int(),
  capacity: z.object({ cpuCores: z.number(), memoryMB: mbString, storageMB: mbString, pods: z.number().int() }),
  allocated: z.object({ cpuCores: z.number(), memoryMB: mbString, storageMB: mbString, pods: z.number().int() }),
  utilization: z.object({ cpu: percent, memory: percent, storage: percent, pods: percent }),
  instances: z.object({
    total: z.number().int().openapi({ description: 'Instances not DELETED' }),
    byStatus: z.object(Object.fromEntries(INSTANCE_STATUSES.map((s) => [s, z.number().int()])) as Record<(typeof INSTANCE_STATUSES)[number], z.ZodNumber>),
    onNodes: z.number().int().openapi({ description: 'RUNNING or DEGRADED instances whose pod runs on a registry node' }),
  }),
});
