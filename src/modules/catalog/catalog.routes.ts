import { defineRoute, type Guards, type RouteDef } from '../../lib/http/index.js';
import { z } from '../../lib/zod.js';
import type { catalogController } from './catalog.controller.js';
import { adminListSchema, adminServiceSchema, categoriesSchema, deletedSchema, publicListSchema, publicServiceSchema, statsSchema } from './catalog.mapper.js';
import { adminListQuery, createServiceBody, idOrSlugParams, idParams, publicListQuery, updateServiceBody } from './catalog.schemas.js';

/** Order matters: the fixed paths come before `/:idOrSlug`, which would otherwise capture them. */
export function catalogRoutes(guards: Guards, c: ReturnType<typeof catalogController>): RouteDef[] {
  return [
    defineRoute({
      method: 'get',
      path: '/public',
      summary: 'Active services, paginated (signed-in users)',
      access: guards.user,
      query: publicListQuery,
      responses: { 200: { description: 'Public view of active services', schema: publicListSchema } },
      handler: c.listPublic,
    }),
    defineRoute({
      method: 'get',
      path: '/categories',
      summary: 'Categories of active services with counts',
      description: 'Public: the same information is in the anonymous GET /services.',
      access: guards.public,
      responses: { 200: { description: 'Categories', schema: categoriesSchema } },
      handler: c.categories,
    }),
    defineRoute({
      method: 'get',
      path: '/admin',
      summary: 'All services with administrator fields, paginated',
      access: guards.admin,
      query: adminListQuery,
      responses: { 200: { description: 'Administrator list', schema: adminListSchema } },
      handler: c.listAdmin,
    }),
    defineRoute({
      method: 'get',
      path: '/admin/stats',
      summary: 'Catalog statistics',
      access: guards.admin,
      responses: { 200: { description: 'Totals, by status, by category, price figures', schema: statsSchema } },
      handler: c.stats,
    }),
    defineRoute({
      method: 'get',
      path: '/admin/:id',
      summary: 'One service with administrator fields (id or slug)',
      access: guards.admin,
      params: idParams,
      responses: { 200: { description: 'Administrator view', schema: adminServiceSchema } },
      handler: c.getAdmin,
    }),
    defineRoute({
      method: 'get',
      path: '/',
      summary: 'Catalog: bare array of active services, or the administrator list for administrators',
      description:
        'Without a token or with a USER token, `data` is an array of the public view of ACTIVE services (filters: search, category, sortBy, sortOrder). With an ADMINISTRATOR token, `data` is the paginated administrator list, as GET /services/admin.',
      access: guards.optionalUser,
      query: adminListQuery,
      responses: { 200: { description: 'Public array or administrator list', schema: z.union([z.array(publicServiceSchema), adminListSchema]) } },
      handler: c.list,
    }),
    defineRoute({
      method: 'post',
      path: '/',
      summary: 'Create a service (README body or flat body)',
      access: guards.admin,
      body: createServiceBody,
      responses: { 201: { description: 'Created', schema: adminServiceSchema } },
      handler: c.create,
    }),
    defineRoute({
      method: 'get',
      path: '/:idOrSlug',
      summary: 'One service by id or slug',
      description: 'Public view of an ACTIVE service; administrators get the administrator view of any service.',
      access: guards.optionalUser,
      params: idOrSlugParams,
      responses: { 200: { description: 'Public or administrator view', schema: z.union([publicServiceSchema, adminServiceSchema]) } },
      handler: c.get,
    }),
    defineRoute({
      method: 'put',
      path: '/:id',
      summary: 'Update a service (partial; the slug is immutable)',
      access: guards.admin,
      params: idParams,
      body: updateServiceBody,
      responses: { 200: { description: 'Updated', schema: adminServiceSchema } },
      handler: c.update,
    }),
    defineRoute({
      method: 'patch',
      path: '/:id/toggle-status',
      summary: 'ACTIVE -> INACTIVE; INACTIVE or DEPRECATED -> ACTIVE',
      access: guards.admin,
      params: idParams,
      responses: { 200: { description: 'Status changed', schema: adminServiceSchema } },
      handler: c.toggleStatus,
    }),
    defineRoute({
      method: 'delete',
      path: '/:id',
      summary: 'Delete a service (409 while subscriptions reference it)',
      access: guards.admin,
      params: idParams,
      responses: { 200: { description: 'Deleted', schema: deletedSchema }, 409: { description: 'Subscriptions reference the service' } },
      handler: c.remove,
    }),
  ];
}
