import type { DbClient } from '../../src/lib/db.js';
import { ensureWallet, postEntry } from '../../src/modules/wallet/index.js';
import { newInstanceFields } from '../../src/modules/subscriptions/subscriptions.view.js';
import { anchorDayOf, nextPeriodEnd } from '../../src/modules/subscriptions/subscriptions.periods.js';
import { SEED_ACCOUNTS } from './users.js';

/** Demo money: each seeded user starts with a funded wallet (IDR). */
const BALANCES: Record<string, number> = { 'user@paas.com': 500_000, 'customer@test.com': 1_000_000 };
/** The demo customer already runs one app, so a new user sees the whole flow at once. */
const CUSTOMER = { email: 'customer@test.com', service: 'n8n' };

export interface BillingSeedOptions {
  timezone: string;
  appsDomain: string;
  currency: string;
}

/** Idempotent: every money movement has a seed idempotency key, the subscription is made once. */
export async function seedBilling(db: DbClient, o: BillingSeedOptions): Promise<{ wallets: number; subscriptions: number }> {
  const users = await db.user.findMany({ where: { email: { in: SEED_ACCOUNTS.map((a) => a.email) } }, select: { id: true, email: true } });
  const now = new Date();
  let wallets = 0;
  for (const user of users) {
    await ensureWallet(db, user.id, o.currency);
    const amount = BALANCES[user.email];
    if (!amount || (await db.transaction.findUnique({ where: { idempotencyKey: `seed:topup:${user.id}` } }))) continue;
    await postEntry(db, { userId: user.id, type: 'TOPUP', amount, description: 'Welcome credit (demo data)', idempotencyKey: `seed:topup:${user.id}`, now });
    wallets++;
  }

  const customer = users.find((u) => u.email === CUSTOMER.email);
  const service = await db.serviceCatalog.findUnique({ where: { slug: CUSTOMER.service } });
  if (!customer || !service || (await db.subscription.count({ where: { userId: customer.id } })) > 0) return { wallets, subscriptions: 0 };
  const anchor = anchorDayOf(now, o.timezone);
  const sub = await db.subscription.create({
    data: { userId: customer.id, serviceId: service.id, status: 'ACTIVE', startDate: now, currentPeriodStart: now, currentPeriodEnd: nextPeriodEnd(now, anchor, o.timezone), billingAnchorDay: anchor, priceAmount: service.monthlyPrice, currency: service.currency },
  });
  await postEntry(db, { userId: customer.id, type: 'CHARGE', amount: -service.monthlyPrice, description: `${service.displayName}, first month`, idempotencyKey: `charge:${sub.id}:${now.toISOString()}`, subscriptionId: sub.id, now });
  await db.serviceInstance.create({ data: { subscriptionId: sub.id, ...newInstanceFields(service, o.appsDomain) } });
  return { wallets, subscriptions: 1 };
}
