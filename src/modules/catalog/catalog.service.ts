import type { Db, DbClient, Prisma } from '../../lib/db.js';
import { AppError, conflict, notFound } from '../../lib/errors/index.js';
import { pageWindow, paginate } from '../../lib/http/index.js';
import { escapeLike } from '../../lib/sql.js';
import { nameKeyOf } from '../../lib/text.js';
import type { ServiceStatus } from '../../generated/prisma/enums.js';
import { toCreateData, toUpdateData } from './catalog.input.js';
import { toAdminService, toPublicService } from './catalog.mapper.js';
import type { AdminListQuery, CreateServiceInput, UpdateServiceInput } from './catalog.schemas.js';
import { freeSlug, lockSlugFamily, slugify } from './slug.js';

const WITH_COUNT = { _count: { select: { subscriptions: true } } } as const;

interface Filters {
  search?: string;
  category?: string;
  status?: ServiceStatus;
}

function whereOf({ search, category, status }: Filters): Prisma.ServiceCatalogWhereInput {
  // Prisma passes `contains` into LIKE as it is: % and _ would be wildcards.
  const contains = { contains: search && escapeLike(search), mode: 'insensitive' } as const;
  return {
    ...(status ? { status } : {}),
    ...(category ? { category } : {}),
    ...(search ? { OR: [{ name: contains }, { displayName: contains }, { slug: contains }, { description: contains }, { category: contains }] } : {}),
  };
}

// `id` breaks ties so pages never overlap when many rows share a sort value.
const orderOf = (q: { sortBy: string; sortOrder: 'asc' | 'desc' }): Prisma.ServiceCatalogOrderByWithRelationInput[] => [{ [q.sortBy]: q.sortOrder }, { id: 'asc' }];

export async function listAdminServices(db: DbClient, q: AdminListQuery) {
  const where = whereOf(q);
  const [rows, total] = await Promise.all([db.serviceCatalog.findMany({ where, orderBy: orderOf(q), include: WITH_COUNT, ...pageWindow(q.page, q.limit) }), db.serviceCatalog.count({ where })]);
  return { services: rows.map(toAdminService), pagination: paginate(q.page, q.limit, total) };
}

/** Counts and price figures, all computed by the database. */
export async function getCatalogStats(db: DbClient, currency: string) {
  const [byStatus, byCategoryStatus, price, deployable, withSubscriptions] = await Promise.all([
    db.serviceCatalog.groupBy({ by: ['status'], _count: { _all: true } }),
    db.serviceCatalog.groupBy({ by: ['category', 'status'], _count: { _all: true } }),
    db.serviceCatalog.aggregate({ _min: { monthlyPrice: true }, _max: { monthlyPrice: true }, _avg: { monthlyPrice: true } }),
    db.serviceCatalog.count({ where: { dockerImage: { not: null } } }),
    db.serviceCatalog.count({ where: { subscriptions: { some: {} } } }),
  ]);
  const statuses: Record<ServiceStatus, number> = { ACTIVE: 0, INACTIVE: 0, DEPRECATED: 0 };
  for (const g of byStatus) statuses[g.status] = g._count._all;
  const categories = new Map<string, { category: string; total: number; active: number }>();
  for (const g of byCategoryStatus) {
    const entry = categories.get(g.category) ?? { category: g.category, total: 0, active: 0 };
    entry.total += g._count._all;
    if (g.status === 'ACTIVE') entry.active += g._count._all;
    categories.set(g.category, entry);
  }
  const avg = price._avg.monthlyPrice;
  return {
    total: statuses.ACTIVE + statuses.INACTIVE + statuses.DEPRECATED,
    active: statuses.ACTIVE,
    byStatus: statuses,
    byCategory: [...categories.values()].sort((a, b) => b.total - a.total || a.category.localeCompare(b.category)),
    deployable,
    withSubscriptions,
    pricing: { currency, min: price._min.monthlyPrice, max: price._max.monthlyPrice, average: avg === null ? null : Math.round(avg) },
  };
}

/** Categories of active services with how many each has. */
export async function listCategories(db: DbClient) {
  const groups = await db.serviceCatalog.groupBy({ by: ['category'], where: { status: 'ACTIVE' }, _count: { _all: true }, orderBy: { category: 'asc' } });
  return { categories: groups.map((g) => ({ category: g.category, count: g._count._all })) };
}

/** An id wins over a slug, so a slug that happens to look like another service's id cannot shadow it. */
async function findByIdOrSlug(db: DbClient, idOrSlug: string) {
  return (
    (await db.serviceCatalog.findUnique({ where: { id: idOrSlug }, include: WITH_COUNT })) ??
    (await db.serviceCatalog.findUnique({ where: { slug: idOrSlug.toLowerCase() }, include: WITH_COUNT }))
  );
}

export async function getAdminService(db: DbClient, idOrSlug: string) {
  const row = await findByIdOrSlug(db, idOrSlug);
  if (!row) throw notFound('service', idOrSlug);
  return toAdminService(row);
}

/** Administrators see any service in full; everyone else sees active services only, in the public view. */
export async function getService(db: DbClient, idOrSlug: string, asAdmin: boolean) {
  const row = await findByIdOrSlug(db, idOrSlug);
  if (!row || (!asAdmin && row.status !== 'ACTIVE')) throw notFound('service', idOrSlug);
  return asAdmin ? toAdminService(row) : toPublicService(row);
}

async function assertNameFree(db: DbClient, name: string, exceptId?: string) {
  const clash = await db.serviceCatalog.findFirst({ where: { nameKey: nameKeyOf(name), ...(exceptId ? { id: { not: exceptId } } : {}) }, select: { name: true } });
  if (clash) throw conflict('name', `A service named '${clash.name}' already exists`);
}

/** The columns of a unique violation (P2002), as the driver adapter or the classic engine report them. */
function uniqueFields(err: unknown): string[] {
  const e = err as { code?: unknown; meta?: { target?: unknown; driverAdapterError?: { cause?: { constraint?: { fields?: unknown } } } } } | null;
  if (e?.code !== 'P2002') return [];
  const fields = e.meta?.driverAdapterError?.cause?.constraint?.fields ?? e.meta?.target;
  return Array.isArray(fields) ? fields.map(String) : [];
}

/** A concurrent write took the name after assertNameFree looked: the unique key decided. */
function nameTakenMeanwhile(err: unknown): unknown {
  const fields = uniqueFields(err);
  return fields.includes('nameKey') || fields.includes('name') ? conflict('name', 'A service with this name already exists') : err;
}

export async function createService(db: Db, input: CreateServiceInput, currency: string) {
  const data = toCreateData(input, currency);
  await assertNameFree(db, data.name);
  const base = slugify(data.name);
  for (let attempt = 1; ; attempt++) {
    try {
      const row = await db.$transaction(async (tx) => {
        await lockSlugFamily(tx, base);
        return tx.serviceCatalog.create({ data: { ...data, slug: await freeSlug(tx, base), currency }, include: WITH_COUNT });
      });
      return toAdminService(row);
    } catch (err) {
      // Slugs written without the lock (the seed's) can still take the one picked: pick again.
      if (attempt >= 3 || !uniqueFields(err).includes('slug')) throw nameTakenMeanwhile(err);
    }
  }
}

export async function updateService(db: Db, id: string, input: UpdateServiceInput, currency: string) {
  if (input.name !== undefined) await assertNameFree(db, input.name, id);
  const update = db.$transaction(async (tx) => {
    // Locks the row so a concurrent update cannot slip a request above the limit checked here.
    await tx.$queryRaw`SELECT id FROM service_catalog WHERE id = ${id} FOR UPDATE`;
    const current = await tx.serviceCatalog.findUnique({ where: { id }, select: { status: true, cpuRequest: true, cpuLimit: true, memRequest: true, memLimit: true } });
    if (!current) throw notFound('service', id);
    const row = await tx.serviceCatalog.update({ where: { id }, data: toUpdateData(input, current, currency), include: WITH_COUNT });
    return toAdminService(row);
  });
  return update.catch((err: unknown) => {
    throw nameTakenMeanwhile(err);
  });
}

/** ACTIVE -> INACTIVE, INACTIVE or DEPRECATED -> ACTIVE, as one conditional update so concurrent toggles never both apply. */
export async function toggleServiceStatus(db: DbClient, id: string) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await db.serviceCatalog.findUnique({ where: { id }, select: { status: true } });
    if (!current) throw notFound('service', id);
    const next: ServiceStatus = current.status === 'ACTIVE' ? 'INACTIVE' : 'ACTIVE';
    const { count } = await db.serviceCatalog.updateMany({ where: { id, status: current.status }, data: { status: next } });
    if (count === 1) return getAdminService(db, id);
  }
  throw new AppError('CONFLICT', 'The service status is being changed concurrently; try again');
}

/** Refused while subscriptions reference the service; the foreign key (RESTRICT) covers one created meanwhile. */
export async function deleteService(db: DbClient, id: string) {
  const row = await db.serviceCatalog.findUnique({ where: { id }, select: { id: true, _count: { select: { subscriptions: true } } } });
  if (!row) throw notFound('service', id);
  const subscriptions = row._count.subscriptions;
  if (subscriptions > 0) {
    throw new AppError('CONFLICT', `The service has ${subscriptions} subscription${subscriptions === 1 ? '' : 's'}; deactivate it instead of deleting it`);
  }
  await db.serviceCatalog.delete({ where: { id } });
  return { id };
}
