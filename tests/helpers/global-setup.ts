import type { TestProject } from 'vitest/node';
import { runPrisma } from '../../src/lib/migrate.js';
import { createDatabase, dropDatabase, startTestServer } from './test-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    adminDatabaseUrl: string;
  }
}

/** One fresh database per run, migrated once with Prisma's own `migrate deploy`, dropped afterwards. */
export default async function setup(project: TestProject) {
  const server = await startTestServer();
  const databaseUrl = await createDatabase(server.adminUrl);
  try {
    await runPrisma(['migrate', 'deploy'], databaseUrl);
  } catch (err) {
    await dropDatabase(server.adminUrl, databaseUrl).catch(() => undefined);
    await server.stop();
    throw err;
  }
  project.provide('databaseUrl', databaseUrl);
  project.provide('adminDatabaseUrl', server.adminUrl);
  return async () => {
    await dropDatabase(server.adminUrl, databaseUrl).catch(() => undefined);
    await server.stop();
  };
}
