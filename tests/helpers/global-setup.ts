import type { TestProject } from 'vitest/node';
import { runPrisma } from '../../src/lib/migrate.js';
import { createDatabase, dropDatabase, startTestServer } from './test-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    adminDatabaseUrl: string;
    /** A migrated database nobody connects to: CREATE DATABASE ... TEMPLATE copies it in a blink. */
    templateDatabaseUrl: string;
  }
}

/**
 * One fresh database per run, migrated once with Prisma's own `migrate deploy` as a template and
 * copied from it, so files that need a database of their own copy it too; all dropped afterwards.
 */
export default async function setup(project: TestProject) {
  const server = await startTestServer();
  const templateUrl = await createDatabase(server.adminUrl, 'minispod_tpl');
  let databaseUrl: string | undefined;
  try {
    await runPrisma(['migrate', 'deploy'], templateUrl);
    databaseUrl = await createDatabase(server.adminUrl, 'minispod_test', templateUrl);
  } catch (err) {
    await dropDatabase(server.adminUrl, templateUrl).catch(() => undefined);
    await server.stop();
    throw err;
  }
  project.provide('databaseUrl', databaseUrl);
  project.provide('adminDatabaseUrl', server.adminUrl);
  project.provide('templateDatabaseUrl', templateUrl);
  return async () => {
    await dropDatabase(server.adminUrl, databaseUrl).catch(() => undefined);
    await dropDatabase(server.adminUrl, templateUrl).catch(() => undefined);
    await server.stop();
  };
}
