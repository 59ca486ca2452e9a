import type { Db } from '../../src/lib/db.js';
import { nameKeyOf } from '../../src/lib/text.js';
import { unique } from '../factories/index.js';

/** Gives a user one subscription (to a fresh service), which blocks deleting them. */
export async function subscribe(db: Db, userId: string): Promise<void> {
  const name = unique('svc');
  const service = await db.serviceCatalog.create({
    data: { name, nameKey: nameKeyOf(name), slug: name, displayName: name, category: 'test', version: '1', monthlyPrice: 1, cpuRequest: '100m', cpuLimit: '1', memRequest: '128Mi', memLimit: '1Gi' },
  });
  await db.subscription.create({ data: { userId, serviceId: service.id } });
}
