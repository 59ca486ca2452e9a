import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/lib/errors/index.js';
import { noJobs } from '../../src/lib/jobs.js';
import { prorate, runRenewals, subscribe, subscriptionsDeps, transition } from '../../src/modules/subscriptions/index.js';
import * as admin from '../../src/modules/subscriptions/subscriptions.admin.js';
import * as subs from '../../src/modules/subscriptions/subscriptions.service.js';
import { balanceOf, createPlan, createPool, createUser, fund, ledgerSum } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';

const ctx = createTestContext();
const { db, config } = ctx;
afterAll(() => ctx.close());

// Refusals a random sequence may meet; anything else (a 500, a constraint error) fails the property.
const EXPECTED = new Set(['INSUFFICIENT_BALANCE', 'ALREADY_SUBSCRIBED', 'SOLD_OUT', 'INVALID_STATE', 'NO_CAPACITY']);
const tolerate = async (work: () => Promise<unknown>) => {
  try {
    await work();
  } catch (err) {
    if (!isAppError(err) || !EXPECTED.has(err.code)) throw err;
  }
};

type Command =
  | { kind: 'topup'; amount: number }
  | { kind: 'subscribe'; plan: number; running: boolean }
  | { kind: 'activate'; sub: number }
  | { kind: 'upgrade'; sub: number; plan: number }
  | { kind: 'renew'; days: number }
  | { kind: 'cancel'; sub: number; atPeriodEnd: boolean }
  | { kind: 'refund'; sub: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant('topup' as const), amount: fc.integer({ min: 1, max: 80_000 }) }),
  // running: its instance comes up at once (the subscription turns ACTIVE), as most do.
  fc.record({ kind: fc.constant('subscribe' as const), plan: fc.nat(3), running: fc.boolean() }),
  fc.record({ kind: fc.constant('activate' as const), sub: fc.nat(3) }),
  fc.record({ kind: fc.constant('upgrade' as const), sub: fc.nat(3), plan: fc.nat(3) }),
  fc.record({ kind: fc.constant('renew' as const), days: fc.integer({ min: 10, max: 45 }) }),
  fc.record({ kind: fc.constant('cancel' as const), sub: fc.nat(3), atPeriodEnd: fc.boolean() }),
  fc.record({ kind: fc.constant('refund' as const), sub: fc.nat(3) }),
);

describe('the ledger under random sequences (fast-check)', () => {
  it('keeps the balance equal to the sum of SUCCEEDED ledger rows, and never negative', async () => {
    const pool = await createPool(db, 2);
    const group = `prop-${Date.now().toString(36)}`;
    const prices = [10_000, 25_000, 40_000, 70_000];
    const plans = await Promise.all(prices.map((monthlyPrice) => createPlan(db, pool, { planGroup: group, monthlyPrice })));

    // What the runs did, so the property cannot pass by refusing everything.
    const seen = { subscriptions: 0, renewals: 0, upgrades: 0, refunds: 0 };
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 150_000 }), fc.array(command, { minLength: 4, maxLength: 20 }), async (start, commands) => {
        let now = Date.now();
        const deps = { ...subscriptionsDeps({ db, config, logger: ctx.logger, jobs: noJobs }), now: () => new Date(now) };
        const { user } = await createUser(db, config);
        await fund(db, user.id, start);
        const mine: string[] = [];
        for (const c of commands) {
          const sub = 'sub' in c ? mine[c.sub % Math.max(1, mine.length)] : undefined;
          if (c.kind === 'topup') await fund(db, user.id, c.amount);
          else if (c.kind === 'subscribe') {
            await tolerate(async () => {
              const { id } = (await subscribe(deps, user.id, { serviceId: plans[c.plan]?.id as string })).subscription;
              mine.push(id);
              if (c.running) await db.$transaction((tx) => transition(tx, id, 'activate', { now: new Date(now) }));
            });
          }
          else if (c.kind === 'renew') {
            now += c.days * 86_400_000;
            await runRenewals(deps, { clock: { now: () => new Date(now) } });
          } else if (!sub) continue;
          else if (c.kind === 'activate') await tolerate(() => db.$transaction((tx) => transition(tx, sub, 'activate', { now: new Date(now) })));
          else if (c.kind === 'upgrade') await tolerate(() => subs.changePlan(deps, user.id, sub, plans[c.plan]?.id as string));
          else if (c.kind === 'cancel') await tolerate(() => subs.cancel(deps, user.id, sub, { atPeriodEnd: c.atPeriodEnd }));
          else await tolerate(() => admin.adminCancel(deps, sub, { reason: 'property test', refundUnused: true }));

          const balance = await balanceOf(db, user.id);
          expect(balance).toBeGreaterThanOrEqual(0);
          expect(await ledgerSum(db, user.id)).toBe(balance);
        }
        const rows = await db.transaction.findMany({ where: { userId: user.id }, select: { type: true, idempotencyKey: true } });
        seen.subscriptions += mine.length;
        seen.renewals += rows.filter((r) => r.type === 'CHARGE' && r.idempotencyKey.startsWith('charge:')).length - mine.length;
        seen.upgrades += rows.filter((r) => r.idempotencyKey.startsWith('upgrade:')).length;
        seen.refunds += rows.filter((r) => r.type === 'REFUND').length;
      }),
      { numRuns: 100, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    // eslint-disable-next-line no-console
    console.log(`ledger property: ${JSON.stringify(seen)}`);
    expect(seen.subscriptions).toBeGreaterThan(10);
    expect(seen.renewals + seen.upgrades + seen.refunds).toBeGreaterThan(5);
  }, 120_000);

  it('never prorates more than the price difference for the rest of the period, nor less than zero', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2_000_000_000 }),
        fc.integer({ min: 0, max: 2_000_000_000 }),
        fc.integer({ min: 1, max: 31 * 86_400_000 }),
        fc.integer({ min: -86_400_000, max: 32 * 86_400_000 }),
        (oldPrice, newPrice, period, elapsed) => {
          const periodStart = new Date(Date.UTC(2027, 0, 1));
          const periodEnd = new Date(periodStart.getTime() + period);
          const now = new Date(periodStart.getTime() + elapsed);
          const charge = prorate({ oldPrice, newPrice, periodStart, periodEnd, now });
          const remaining = BigInt(Math.min(period, Math.max(0, period - elapsed)));
          expect(Number.isInteger(charge)).toBe(true);
          expect(charge).toBeGreaterThanOrEqual(0);
          // charge <= (new - old) * remaining / period, exactly.
          expect(BigInt(charge) * BigInt(period)).toBeLessThanOrEqual(BigInt(Math.max(0, newPrice - oldPrice)) * remaining);
          // and gives away less than one unit.
          if (newPrice > oldPrice) expect(BigInt(charge + 1) * BigInt(period)).toBeGreaterThan(BigInt(newPrice - oldPrice) * remaining);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
