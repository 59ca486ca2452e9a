import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/lib/embedded-postgres.js';

export interface TestServer {
  /** URL of the server's maintenance database, used to create and drop test databases. */
  adminUrl: string;
  stop: () => Promise<void>;
}

export const withDatabase = (url: string, database: string) => {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
};

/** TEST_DATABASE_URL or DATABASE_URL when set; otherwise an embedded PostgreSQL in a temporary directory. */
export async function startTestServer(): Promise<TestServer> {
  const external = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (external) return { adminUrl: external, stop: async () => undefined };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minispod-test-pg-'));
  fs.chmodSync(dir, 0o755);
  const embedded: EmbeddedDatabase = await startEmbeddedPostgres({ dataDir: path.join(dir, 'data'), persistent: false, database: 'postgres' });
  return {
    adminUrl: embedded.url,
    stop: async () => {
      await embedded.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A new empty database on the server of `adminUrl`, or a copy of the database at `templateUrl`. */
export async function createDatabase(adminUrl: string, prefix = 'minispod_test', templateUrl?: string): Promise<string> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const template = templateUrl ? ` TEMPLATE "${new URL(templateUrl).pathname.slice(1)}"` : '';
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"${template}`);
  } finally {
    await client.end();
  }
  return withDatabase(adminUrl, name);
}

export async function dropDatabase(adminUrl: string, url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
