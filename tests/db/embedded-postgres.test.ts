import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedPostgresError, startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/lib/embedded-postgres.js';

// As root, the embedded PostgreSQL runs as the `postgres` system user. In a project that user
// cannot enter (a home directory like /root/app, anything made by `mktemp -d`), `npm start` and
// `npm test` crashed with an unhandled 'error' event (initdb: spawn EACCES). Here the binaries and
// the data directory sit in such a directory, as they do in a project there.
describe.runIf(process.getuid?.() === 0)('the embedded PostgreSQL of a root process in a directory other users cannot enter', () => {
  let closed: string;
  let stateDir: string;
  let binaries: string;
  let dataDir: string;
  const started: EmbeddedDatabase[] = [];

  beforeAll(async () => {
    closed = fs.mkdtempSync(path.join(os.tmpdir(), 'minispod-closed-'));
    expect(fs.statSync(closed).mode & 0o777).toBe(0o700);
    const open = fs.mkdtempSync(path.join(os.tmpdir(), 'minispod-state-'));
    fs.chmodSync(open, 0o755);
    stateDir = path.join(open, 'state');
    const { postgres } = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { postgres: string };
    const pkg = path.resolve(path.dirname(postgres), '..', '..');
    fs.cpSync(pkg, path.join(closed, 'pkg'), { recursive: true, verbatimSymlinks: true });
    binaries = path.join(closed, 'pkg', 'native');
    dataDir = path.join(closed, 'app', '.data', 'postgres');
  }, 60_000);

  afterAll(async () => {
    for (const db of started) await db.stop();
    for (const dir of [closed, path.dirname(stateDir)]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = async () => {
    const db = await startEmbeddedPostgres({ dataDir, binaries, stateDir, persistent: true, database: 'postgres' });
    started.push(db);
    return db;
  };
  const query = async (url: string, sql: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };

  it('runs from a copy of the binaries and a data directory the postgres user owns, reached through a link', async () => {
    const db = await start();
    expect(await query(db.url, `SELECT current_setting('server_encoding') AS encoding`)).toEqual([{ encoding: 'UTF8' }]);
    const [pid] = fs.readFileSync(path.join(db.dataDir, 'postmaster.pid'), 'utf8').split('\n');
    expect(fs.readlinkSync(`/proc/${pid}/exe`).startsWith(`${stateDir}/`)).toBe(true);
    expect(fs.lstatSync(dataDir).isSymbolicLink()).toBe(true);
    expect(fs.realpathSync(dataDir)).toBe(db.dataDir);
    expect(db.dataDir.startsWith(`${stateDir}/`)).toBe(true);
    await query(db.url, 'CREATE TABLE kept (x int)');
    await db.stop();
  }, 60_000);

  it('keeps the data across restarts, and starts from scratch once the link is deleted', async () => {
    const again = await start();
    expect(await query(again.url, `SELECT to_regclass('kept')::text AS t`)).toEqual([{ t: 'kept' }]);
    await again.stop();

    fs.rmSync(dataDir);
    const fresh = await start();
    expect(await query(fresh.url, `SELECT to_regclass('kept')::text AS t`)).toEqual([{ t: null }]);
    expect(fs.readdirSync(path.join(stateDir, 'data'))).toHaveLength(1);
    await fresh.stop();
  }, 60_000);

  it('stops with one line that says what to change when no reachable place can be made', async () => {
    const unreachable = path.join(closed, 'state');
    const failure = await startEmbeddedPostgres({ dataDir: path.join(closed, 'other', 'postgres'), binaries, stateDir: unreachable, persistent: true }).then(
      () => new Error('it started'),
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(EmbeddedPostgresError);
    const { message } = failure as Error;
    expect(message).not.toContain('\n');
    expect(message).toMatch(/cannot reach .* run it as a regular user, move the project to a directory other users can enter, or set DATABASE_URL$/);
  }, 60_000);
});
