import { defineRoute, type RouteDef } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import { agentOrAdminAccess } from './workers.agent-auth.js';
import { workersController } from './workers.controller.js';
import {
  createNodeBody,
  heartbeatBody,
  heartbeatResultSchema,
  listNodesQuery,
  livenessQuery,
  nodeDataSchema,
  nodeDetailSchema,
  nodeListSchema,
  nodeParams,
  nodeWithTokenSchema,
  resourcesBody,
  resourcesResultSchema,
  schedulableBody,
  statsSchema,
  statusBody,
  updateNodeBody,
} from './workers.schemas.js';

export function workersRoutes({ db, config, guards }: ModuleDeps): RouteDef[] {
  const c = workersController({ db, config });
  const admin = guards.admin;
  const agentOrAdmin = agentOrAdminAccess(guards, db);
  const nodeResponse = (description: string) => ({ 200: { description, schema: nodeDataSchema } });

  // The agents' reports come first: they are most of the traffic, and Express tries routes in
  // order. Fixed paths come before /:nodeId, so "stats" is never read as a node name.
  return [
    defineRoute({
      method: ['post', 'patch'],
      path: '/:nodeId/heartbeat',
      summary: "Heartbeat from the node's agent (agent token or administrator)",
      description:
        'Renews liveness. An empty body means ready. A ready heartbeat makes PENDING, NOT_READY and INACTIVE nodes ACTIVE; `isReady: false` makes the node NOT_READY; MAINTENANCE is never changed. The body may also carry usage, capacity and node info.',
      access: agentOrAdmin,
      params: nodeParams,
      body: heartbeatBody,
      responses: { 200: { description: 'Recorded', schema: heartbeatResultSchema } },
      handler: c.heartbeat,
    }),
    defineRoute({
      method: ['post', 'patch'],
      path: '/:nodeId/resources',
      summary: "Resource usage report from the node's agent (agent token or administrator)",
      description: 'Values above the node capacity (or currentPods above maxPods) are refused with 400 and change nothing.',
      access: agentOrAdmin,
      params: nodeParams,
      body: resourcesBody,
      responses: { 200: { description: 'Recorded', schema: resourcesResultSchema } },
      handler: c.resources,
    }),
    defineRoute({ method: 'get', path: '/', summary: 'List worker nodes', access: admin, query: listNodesQuery, responses: { 200: { description: 'A page of nodes', schema: nodeListSchema } }, handler: c.list }),
    defineRoute({
      method: 'get',
      path: '/stats',
      summary: 'Fleet statistics: counts, capacity, allocation and utilisation',
      access: admin,
      responses: { 200: { description: 'Statistics', schema: statsSchema } },
      handler: c.stats,
    }),
    defineRoute({
      method: 'get',
      path: '/online',
      summary: 'Nodes whose last heartbeat is within the grace period',
      access: admin,
      query: livenessQuery,
      responses: { 200: { description: 'A page of online nodes', schema: nodeListSchema } },
      handler: c.online,
    }),
    defineRoute({
      method: 'get',
      path: '/offline',
      summary: 'Nodes whose last heartbeat is older than the grace period',
      access: admin,
      query: livenessQuery,
      responses: { 200: { description: 'A page of offline nodes', schema: nodeListSchema } },
      handler: c.offline,
    }),
    defineRoute({
      method: 'post',
      path: '/',
      summary: 'Register a worker node (returns its agent token once)',
      access: admin,
      body: createNodeBody,
      responses: { 201: { description: 'Registered', schema: nodeWithTokenSchema } },
      handler: c.create,
    }),
    defineRoute({
      method: 'get',
      path: '/:nodeId',
      summary: 'Get a worker node by id or name, with the instances that run on it',
      access: admin,
      params: nodeParams,
      responses: { 200: { description: 'The node and its instances', schema: nodeDetailSchema } },
      handler: c.get,
    }),
    defineRoute({
      method: 'put',
      path: '/:nodeId',
      summary: 'Update a worker node',
      access: admin,
      params: nodeParams,
      body: updateNodeBody,
      responses: nodeResponse('The updated node'),
      handler: c.update,
    }),
    defineRoute({ method: 'delete', path: '/:nodeId', summary: 'Delete a worker node', access: admin, params: nodeParams, responses: nodeResponse('The deleted node'), handler: c.remove }),
    defineRoute({
      method: 'patch',
      path: '/:nodeId/schedulable',
      summary: 'Cordon or uncordon: set isSchedulable, or toggle it when the body is empty',
      access: admin,
      params: nodeParams,
      body: schedulableBody,
      responses: nodeResponse('The node'),
      handler: c.schedulable,
    }),
    defineRoute({
      method: 'patch',
      path: '/:nodeId/status',
      summary: 'Set the status with an optional reason (MAINTENANCE also cordons the node)',
      access: admin,
      params: nodeParams,
      body: statusBody,
      responses: nodeResponse('The node'),
      handler: c.status,
    }),
    defineRoute({
      method: 'post',
      path: '/:nodeId/token',
      summary: 'Rotate the node agent token (the previous one stops working at once)',
      access: admin,
      params: nodeParams,
      responses: { 200: { description: 'The new token, shown once', schema: nodeWithTokenSchema } },
      handler: c.rotateToken,
    }),
  ];
}
