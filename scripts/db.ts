/**
 * Database commands that work with DATABASE_URL or, without it, the embedded PostgreSQL under
 * .data/ that `npm start` uses: migrate (Prisma's `migrate deploy`), seed, reset, studio.
 */
import { spawn } from 'node:child_process';
import { loadConfig } from '../src/lib/config.js';
import { maskUrl, resolveDatabase } from '../src/lib/database-runtime.js';
import { createDb } from '../src/lib/db.js';
import { createLogger } from '../src/lib/logger.js';
import { PROJECT_ROOT, runPrisma } from '../src/lib/migrate.js';
import { seed } from '../prisma/seed.js';

const command = process.argv[2];
const config = loadConfig();
const logger = createLogger({ log: { ...config.log, files: false, level: config.log.level === 'silent' ? 'silent' : 'info' } });

async function withDatabase(fn: (url: string) => Promise<void>): Promise<void> {
  const database = await resolveDatabase(config, logger);
  console.log(`Database: ${maskUrl(database.url)}${database.embedded ? ' (embedded)' : ''}`);
  try {
    await fn(database.url);
  } finally {
    await database.embedded?.stop();
  }
}

async function runSeed(url: string): Promise<void> {
  const handle = createDb({ url });
  try {
    const result = await seed(handle.db, { bcryptCost: config.bcryptCost, billing: { timezone: config.billing.timezone, appsDomain: config.appsDomain, currency: config.currency } });
    console.log(`Seed: created ${result.users} users, ${result.services} services, ${result.workers} worker nodes, ${result.wallets} funded wallets, ${result.subscriptions} subscription (existing rows are left as they are)`);
  } finally {
    await handle.close();
  }
}

const commands: Record<string, (url: string) => Promise<void>> = {
  migrate: async (url) => console.log(await runPrisma(['migrate', 'deploy'], url)),
  seed: runSeed,
  reset: async (url) => {
    if (config.env === 'production') throw new Error('db:reset refuses to run with NODE_ENV=production');
    console.log(await runPrisma(['migrate', 'reset', '--force', '--skip-seed'], url));
    // Prisma resets its own schema only: the job queues (pg-boss) live in theirs.
    const handle = createDb({ url });
    try {
      await handle.pool.query(`DROP SCHEMA IF EXISTS "${config.jobs.schema}" CASCADE`);
      console.log(`Dropped the job queues' schema "${config.jobs.schema}" (recreated at the next start)`);
    } finally {
      await handle.close();
    }
    await runSeed(url);
  },
  studio: (url) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['node_modules/prisma/build/index.js', 'studio'], { cwd: PROJECT_ROOT, stdio: 'inherit', env: { ...process.env, DATABASE_URL: url } });
      const stop = () => child.kill('SIGINT');
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      child.on('exit', () => resolve());
      child.on('error', reject);
    }),
};

const run = command ? commands[command] : undefined;
if (!run) {
  console.error(`usage: tsx scripts/db.ts <${Object.keys(commands).join('|')}>`);
  process.exit(2);
}
try {
  await withDatabase(run);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
}
