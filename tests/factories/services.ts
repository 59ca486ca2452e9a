import type { Db } from '../../src/lib/db.js';
import type { Prisma } from '../../src/generated/prisma/client.js';
import { nameKeyOf } from '../../src/lib/text.js';
import { unique } from './unique.js';

export type ServiceOverrides = Partial<Prisma.ServiceCatalogUncheckedCreateInput>;

/** Creates a catalog service directly in the database with a unique name and slug. */
export async function createService(db: Db, overrides: ServiceOverrides = {}) {
  const name = overrides.name ?? unique('svc');
  return db.serviceCatalog.create({
    data: {
      name,
      nameKey: nameKeyOf(name),
      slug: overrides.slug ?? name.toLowerCase().replace(/[^a-z0-9]+/g, '-'),
      displayName: overrides.displayName ?? name,
      description: 'A test service',
      category: 'testing',
      version: '1.0.0',
      status: 'ACTIVE',
      dockerImage: 'nginx:1.27-alpine',
      containerPort: 80,
      monthlyPrice: 15000,
      currency: 'IDR',
      cpuRequest: '100m',
      cpuLimit: '500m',
      memRequest: '128Mi',
      memLimit: '256Mi',
      storage: '1Gi',
      environmentVars: { TZ: 'Asia/Jakarta' },
      ...overrides,
    },
  });
}
