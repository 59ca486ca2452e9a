import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { seed } from '../../prisma/seed.js';
import { runRestFile } from '../../scripts/lib/rest-file.js';
import { createHttpServer } from '../../src/lib/http/server.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { createDatabase, dropDatabase } from '../helpers/test-database.js';

/**
 * The .rest files are documentation a developer runs top to bottom: run them against a freshly
 * seeded server, served as `npm start` serves it (createHttpServer).
 */
describe('rest/*.rest against a freshly seeded server', () => {
  const admin = inject('adminDatabaseUrl');
  let url: string;
  let ctx: TestContext;
  let baseUrl: string;
  let server: ReturnType<typeof createHttpServer>;

  beforeAll(async () => {
    url = await createDatabase(admin, 'minispod_rest', inject('templateDatabaseUrl'));
    ctx = createTestContext({ env: { DATABASE_URL: url } });
    await seed(ctx.db, { bcryptCost: 4 });
    // The seeded nodes as their agents report them once running (the simulated cluster's nodes
    // do this under npm start): ready, so subscriptions find room.
    await ctx.db.workerNode.updateMany({ data: { status: 'ACTIVE', isReady: true, lastHeartbeat: new Date() } });
    server = createHttpServer(ctx.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await ctx.close();
    await dropDatabase(admin, url);
  });

  it("seeds the demo customer's ACTIVE n8n subscription, charged once, with its instance and the plan's requests admission counts", async () => {
    const sub = await ctx.db.subscription.findFirstOrThrow({ where: { user: { email: 'customer@test.com' } }, include: { instance: true, service: true } });
    expect(sub).toMatchObject({ status: 'ACTIVE', priceAmount: sub.service.monthlyPrice });
    expect(sub.instance).toMatchObject({ status: 'PENDING', cpuRequestMillis: 250, memoryRequestMb: 256, namespace: expect.stringMatching(/^msp-[a-z0-9]{10}$/) });
    expect(await ctx.db.transaction.count({ where: { subscriptionId: sub.id, type: 'CHARGE' } })).toBe(1);
  });

  it.each(['auth', 'user', 'service', 'worker', 'admin', 'webhook', 'wallet', 'subscription'])('%s.rest: every request answers with the status its title announces', async (name) => {
    const text = fs.readFileSync(path.join('rest', `${name}.rest`), 'utf8');
    const results = await runRestFile(text, { baseUrl });
    expect(results.length).toBeGreaterThan(5);
    const failures = results.filter((r) => !r.ok).map((r) => `${r.status} (expected ${r.expected}) ${r.method} ${r.url} ${r.title}: ${JSON.stringify(r.body).slice(0, 300)}`);
    expect(failures).toEqual([]);
  });
});
