import type { Request } from 'express';
import { created, ok, type RouteContext } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import type { adminListQuery, createServiceBody, idOrSlugParams, idParams, publicListQuery, updateServiceBody } from './catalog.schemas.js';
import { sqlFor } from '../../lib/sql.js';
import { listActiveServices, listPublicServices } from './catalog.public.js';
import * as catalog from './catalog.service.js';

type Ctx<P = undefined, Q = undefined, B = undefined> = RouteContext<P, Q, B>;
const isAdmin = (req: Request) => req.user?.role === 'ADMINISTRATOR';

/** Thin handlers: validated input and the caller in, one service call, one response helper. */
export function catalogController({ db, config }: Pick<ModuleDeps, 'db' | 'config'>) {
  const sql = sqlFor(db);
  return {
    listPublic: async ({ query, res }: Ctx<undefined, typeof publicListQuery>) => ok(res, await listPublicServices(sql, query), 'Services retrieved'),

    // One URL, two audiences: the dashboard's catalog page reads a bare array, its admin screens the paginated list.
    list: async ({ query, req, res }: Ctx<undefined, typeof adminListQuery>) =>
      ok(res, isAdmin(req) ? await catalog.listAdminServices(db, query) : await listActiveServices(sql, query), 'Services retrieved'),

    listAdmin: async ({ query, res }: Ctx<undefined, typeof adminListQuery>) => ok(res, await catalog.listAdminServices(db, query), 'Services retrieved'),
    stats: async ({ res }: Ctx) => ok(res, await catalog.getCatalogStats(db, config.currency), 'Service statistics retrieved'),
    categories: async ({ res }: Ctx) => ok(res, await catalog.listCategories(db), 'Categories retrieved'),
    getAdmin: async ({ params, res }: Ctx<typeof idParams>) => ok(res, await catalog.getAdminService(db, params.id), 'Service retrieved'),
    get: async ({ params, req, res }: Ctx<typeof idOrSlugParams>) => ok(res, await catalog.getService(db, params.idOrSlug, isAdmin(req)), 'Service retrieved'),
    create: async ({ body, res }: Ctx<undefined, undefined, typeof createServiceBody>) => created(res, await catalog.createService(db, body, config.currency), 'Service created'),
    update: async ({ params, body, res }: Ctx<typeof idParams, undefined, typeof updateServiceBody>) =>
      ok(res, await catalog.updateService(db, params.id, body, config.currency), 'Service updated'),
    toggleStatus: async ({ params, res }: Ctx<typeof idParams>) => ok(res, await catalog.toggleServiceStatus(db, params.id), 'Service status changed'),
    remove: async ({ params, res }: Ctx<typeof idParams>) => ok(res, await catalog.deleteService(db, params.id), 'Service deleted'),
  };
}
