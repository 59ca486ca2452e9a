import type { Request } from 'express';
import { created, defineRoute, forRequest, idParam, ok, type RouteDef } from '../../lib/http/index.js';
import { userWithCountSchema } from '../auth/index.js';
import type { ModuleDeps } from '../types.js';
import { bulkUpdate } from './users.bulk.js';
import { bulkBody, bulkResultSchema, createUserBody, listUsersQuery, resetPasswordBody, updateUserBody, usersListSchema, userStatsSchema } from './users.schemas.js';
import { sqlFor } from '../../lib/sql.js';
import { listUsers } from './users.list.js';
import * as users from './users.service.js';

const actorId = (req: Request) => (req.user as NonNullable<Request['user']>).id;
const notFound = { 404: { description: 'No user with this id' } };

/** Administrator-only user management. Static paths come before `/:id` so they are not read as ids. */
export function usersRoutes(deps: ModuleDeps): RouteDef[] {
  const access = deps.guards.admin;
  const svc: users.UsersDeps = { db: deps.db, config: deps.config, logger: deps.logger, jobs: deps.jobs };
  const sql = sqlFor(deps.db);

  return [
    defineRoute({
      method: 'get',
      path: '/',
      summary: 'List users',
      description: '`search` matches name and email (case-insensitive); filters `role` and `isActive`.',
      access,
      query: listUsersQuery,
      responses: { 200: { description: 'A page of users', schema: usersListSchema } },
      handler: async ({ query, res }) => ok(res, await listUsers(sql, query), 'Users retrieved successfully'),
    }),
    defineRoute({
      method: 'get',
      path: '/stats',
      summary: 'User statistics',
      access,
      responses: { 200: { description: 'Counts', schema: userStatsSchema } },
      handler: async ({ res }) => ok(res, await users.getUserStats(svc), 'User statistics retrieved successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/bulk',
      summary: 'Apply one action to many users, all or nothing',
      description: 'Any problem with any id (not found 404, own account 403, last administrator or subscriptions 409) refuses the whole request and names each offending id in `errors`.',
      access,
      body: bulkBody,
      responses: { 200: { description: 'Per-id results', schema: bulkResultSchema }, 404: { description: 'Some ids do not exist' }, 409: { description: 'Refused' } },
      handler: async ({ body, req, res }) => ok(res, await bulkUpdate(forRequest(svc, res), actorId(req), body), 'Bulk action completed'),
    }),
    defineRoute({
      method: 'post',
      path: '/',
      summary: 'Create a user',
      access,
      body: createUserBody,
      responses: { 201: { description: 'Created', schema: userWithCountSchema }, 409: { description: 'Email already registered' } },
      handler: async ({ body, res }) => created(res, await users.createUser(svc, body), 'User created successfully'),
    }),
    defineRoute({
      method: 'get',
      path: '/:id',
      summary: 'Get a user',
      access,
      params: idParam,
      responses: { 200: { description: 'The user', schema: userWithCountSchema }, ...notFound },
      handler: async ({ params, res }) => ok(res, await users.getUser(svc, params.id), 'User retrieved successfully'),
    }),
    defineRoute({
      method: 'put',
      path: '/:id',
      summary: 'Update name, email, role or active status',
      description: 'Deactivating revokes the user\'s sessions. Administrators cannot deactivate or demote themselves (403), nor the last active administrator (409).',
      access,
      params: idParam,
      body: updateUserBody,
      responses: { 200: { description: 'Updated', schema: userWithCountSchema }, ...notFound, 409: { description: 'Email taken or last administrator' } },
      handler: async ({ params, body, req, res }) => ok(res, await users.updateUser(svc, actorId(req), params.id, body), 'User updated successfully'),
    }),
    defineRoute({
      method: 'delete',
      path: '/:id',
      summary: 'Delete a user',
      description: 'Refused (409) while the user has subscriptions, and for the last active administrator; administrators cannot delete themselves (403).',
      access,
      params: idParam,
      responses: { 200: { description: 'The deleted user', schema: userWithCountSchema }, ...notFound, 409: { description: 'Refused' } },
      handler: async ({ params, req, res }) => ok(res, await users.deleteUser(forRequest(svc, res), actorId(req), params.id), 'User deleted successfully'),
    }),
    defineRoute({
      method: 'patch',
      path: '/:id/password',
      summary: 'Set a new password for a user',
      description: 'Ends every session of the user at once: refresh tokens are revoked and access tokens stop working. Not for one\'s own account (403): use POST /auth/change-password, which asks for the current password.',
      access,
      params: idParam,
      body: resetPasswordBody,
      responses: { 200: { description: 'Password changed', schema: userWithCountSchema }, ...notFound },
      handler: async ({ params, body, req, res }) => ok(res, await users.resetPassword(forRequest(svc, res), actorId(req), params.id, body.newPassword), 'User password changed successfully'),
    }),
    defineRoute({
      method: 'patch',
      path: '/:id/toggle-status',
      summary: 'Activate or deactivate a user',
      access,
      params: idParam,
      responses: { 200: { description: 'The user with its new status', schema: userWithCountSchema }, ...notFound, 409: { description: 'Last administrator' } },
      handler: async ({ params, req, res }) => ok(res, await users.toggleStatus(svc, actorId(req), params.id), 'User status toggled successfully'),
    }),
  ];
}
