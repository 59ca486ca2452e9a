import type { WorkerNode } from '../../generated/prisma/client.js';

/** The moment a response describes, and the grace period that decides online/offline. */
export interface Clock {
  now: Date;
  graceSeconds: number;
}

export const secondsSince = (date: Date, now: Date) => Math.max(0, Math.floor((now.getTime() - date.getTime()) / 1000));

/** A node is online when its last heartbeat is at or after this moment. */
export const heartbeatCutoff = ({ now, graceSeconds }: Clock) => new Date(now.getTime() - graceSeconds * 1000);

/** Online: a heartbeat arrived within the grace period. A node that never sent one is not. */
export const isOnline = (lastHeartbeat: Date | null, clock: Clock) => lastHeartbeat !== null && lastHeartbeat >= heartbeatCutoff(clock);

/** The wire view of a node: an allow-list, so the agent token hash can never leak. */
export function toNodeDto(node: WorkerNode, clock: Clock) {
  const secondsSinceHeartbeat = node.lastHeartbeat && secondsSince(node.lastHeartbeat, clock.now);
  return {
    id: node.id,
    name: node.name,
    hostname: node.hostname,
    ipAddress: node.ipAddress,
    cpuCores: node.cpuCores,
    cpuArchitecture: node.cpuArchitecture,
    totalMemory: node.totalMemory.toString(),
    totalStorage: node.totalStorage.toString(),
    architecture: node.architecture,
    operatingSystem: node.operatingSystem,
    status: node.status,
    statusReason: node.statusReason,
    isReady: node.isReady,
    isSchedulable: node.isSchedulable,
    maxPods: node.maxPods,
    currentPods: node.currentPods,
    allocatedCPU: node.allocatedCPU,
    allocatedMemory: node.allocatedMemory.toString(),
    allocatedStorage: node.allocatedStorage.toString(),
    labels: node.labels,
    taints: node.taints,
    kubeletVersion: node.kubeletVersion,
    containerRuntime: node.containerRuntime,
    kernelVersion: node.kernelVersion,
    osImage: node.osImage,
    lastHeartbeat: node.lastHeartbeat?.toISOString() ?? null,
    lastHealthCheck: node.lastHealthCheck.toISOString(),
    secondsSinceHeartbeat,
    isOnline: isOnline(node.lastHeartbeat, clock),
    hasAgentToken: node.agentTokenHash !== null,
    createdAt: node.createdAt.toISOString(),
    updatedAt: node.updatedAt.toISOString(),
  };
}

export type NodeDto = ReturnType<typeof toNodeDto>;
