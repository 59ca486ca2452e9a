import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { DEFAULT_STATE_DIR, EmbeddedPostgresError, postgresUser, reachableBinaries, reachableDataDir, type RunAs } from './embedded-postgres-access.js';

export { EmbeddedPostgresError } from './embedded-postgres-access.js';

/** How the server process ended, with the last line it wrote that says why. */
export interface PostgresExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  reason: string;
}

export interface EmbeddedDatabase {
  url: string;
  port: number;
  /** Where the cluster's files are: the directory asked for, or, as root, one the postgres user can reach. */
  dataDir: string;
  /** Called when the server exits without stop() (killed, crashed). */
  onUnexpectedExit: (listener: (exit: PostgresExit) => void) => void;
  /** Starts the server again on the same data and port, after it exited; false when stop() was called. */
  restart: () => Promise<boolean>;
  stop: () => Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  /** 0 picks a free port. */
  port?: number;
  database?: string;
  persistent?: boolean;
  onLog?: (message: string) => void;
  /** Where a root process keeps what the postgres user must be able to reach (default /var/lib/minispod). */
  stateDir?: string;
  /** The directory holding bin/, lib/ and share/ (default: the @embedded-postgres package of this platform). */
  binaries?: string;
}

export class PortInUseError extends EmbeddedPostgresError {
  constructor(readonly port: number) {
    super(`Port ${port} is already in use`);
    this.name = 'PortInUseError';
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

const PASSWORD = 'minispod';
const READY = 'database system is ready to accept connections';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
// Messages in English whatever the environment's locale: readiness is read from the server's log.
const childEnv = () => ({ ...process.env, LC_MESSAGES: 'C' });

/** The line of a server's or tool's output that says what went wrong, for a one-line error; '' if none does and `strict`. */
function reasonIn(output: string, strict = false): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = [...lines].reverse().find((l) => /\b(FATAL|PANIC|ERROR|error):/.test(l)) ?? (strict ? '' : (lines.at(-1) ?? 'no output'));
  return line.replace(/^.*?\b(FATAL|PANIC|ERROR):\s*/, '');
}

async function packagedBinaries(): Promise<{ root: string; version: string }> {
  const name = `@embedded-postgres/${os.platform() === 'win32' ? 'windows' : os.platform()}-${os.arch()}`;
  try {
    const { postgres } = (await import(name)) as { postgres: string };
    const root = path.resolve(path.dirname(postgres), '..');
    return { root, version: versionOf(root) };
  } catch (err) {
    throw new EmbeddedPostgresError(`No embedded PostgreSQL for this platform (${name}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}): set DATABASE_URL`);
  }
}

const versionOf = (root: string) => (JSON.parse(fs.readFileSync(path.join(root, '..', 'package.json'), 'utf8')) as { version: string }).version;

/** Runs initdb (or another tool) to completion; a failure to start is an error, never an unhandled event. */
function runTool(file: string, args: string[], user: RunAs | undefined, log: (m: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const child = spawn(file, args, { ...user, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(), windowsHide: true });
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      log(chunk.toString());
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (err) => reject(new EmbeddedPostgresError(`${path.basename(file)} could not be started: ${err.message}`)));
    child.once('close', (code, signal) => (code === 0 ? resolve() : reject(new EmbeddedPostgresError(`${path.basename(file)} failed (${signal ?? `exit code ${code}`}): ${reasonIn(output)}`))));
  });
}

async function initialise(initdb: string, dataDir: string, user: RunAs | undefined, log: (m: string) => void): Promise<void> {
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Beside the data directory, where the server's user can read it; removed right after.
  const pwfile = `${dataDir}.pwfile`;
  fs.writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
  try {
    if (user) for (const p of [dataDir, pwfile]) fs.chownSync(p, user.uid, user.gid);
    // UTF8 even when the environment has no locale (initdb would pick SQL_ASCII).
    await runTool(initdb, [`--pgdata=${dataDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--lc-messages=C'], user, log);
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
}

interface Running {
  child: ChildProcess;
  exited: Promise<PostgresExit>;
}

/** Starts the server and resolves once it accepts connections; rejects with the reason if it exits first. */
async function launch(postgres: string, dataDir: string, port: number, user: RunAs | undefined, log: (m: string) => void): Promise<Running> {
  removeStalePidFile(dataDir);
  const flags = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'unix_socket_directories=', '-c', 'lc_messages=C'];
  const child = spawn(postgres, ['-D', dataDir, '-p', String(port), ...flags], {
    ...user,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv(),
    windowsHide: true,
    // A process group of its own: Ctrl+C in a terminal reaches the API only, which stops PostgreSQL
    // after the requests in flight, instead of PostgreSQL cutting them off at once.
    detached: process.platform !== 'win32',
  });
  let output = '';
  let ready = false;
  const exited = new Promise<PostgresExit>((resolve) => {
    child.once('error', (err) => resolve({ code: null, signal: null, reason: err.message }));
    child.once('exit', (code, signal) => {
      // Once it ran, only what it wrote since says why it stopped (nothing, when it was killed).
      // Its last words may still be in the pipe: read them first, a moment at most.
      const done = () => resolve({ code, signal, reason: reasonIn(output, ready) });
      const timer = setTimeout(done, 200);
      child.once('close', () => {
        clearTimeout(timer);
        done();
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new EmbeddedPostgresError(`Embedded PostgreSQL did not start within ${START_TIMEOUT_MS / 1000} s in ${dataDir}: ${reasonIn(output)}`));
    }, START_TIMEOUT_MS);
    const collect = (chunk: Buffer) => {
      const text = chunk.toString();
      log(text);
      output = (output + text).slice(-8000);
      if (!ready && output.includes(READY)) {
        ready = true;
        output = '';
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    void exited.then((exit) => {
      clearTimeout(timer);
      reject(new EmbeddedPostgresError(`Embedded PostgreSQL failed to start in ${dataDir}: ${exit.reason}`));
    });
  });
  return { child, exited };
}

/** A fast shutdown (SIGINT); an immediate one if it takes too long. */
async function terminate({ child, exited }: Running): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGQUIT'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts a real PostgreSQL with the binaries of the `embedded-postgres` packages. As root it runs
 * the server as the `postgres` system user (created if missing), since PostgreSQL refuses to run
 * as root, from places that user can reach (see embedded-postgres-access.ts).
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const requested = path.resolve(options.dataDir);
  const port = options.port && options.port > 0 ? options.port : await freePort();
  if (!(await isPortFree(port))) throw new PortInUseError(port);
  const log = options.onLog ?? (() => undefined);
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const packaged = options.binaries ? { root: path.resolve(options.binaries), version: versionOf(path.resolve(options.binaries)) } : await packagedBinaries();
  const user = postgresUser();
  const root = user ? reachableBinaries(user, packaged.root, packaged.version, stateDir) : packaged.root;
  const dataDir = user ? reachableDataDir(user, requested, stateDir) : requested;
  const bin = (name: string) => path.join(root, 'bin', process.platform === 'win32' ? `${name}.exe` : name);

  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await initialise(bin('initdb'), dataDir, user, log);
  const start = async () => {
    try {
      return await launch(bin('postgres'), dataDir, port, user, log);
    } catch (err) {
      if (!(await isPortFree(port))) throw new PortInUseError(port);
      throw err;
    }
  };
  let server = await start();

  let stopping: Promise<void> | undefined;
  const listeners: ((exit: PostgresExit) => void)[] = [];
  const watch = (running: Running) =>
    void running.exited.then((exit) => {
      if (server === running && !stopping) for (const listener of listeners) listener(exit);
    });
  watch(server);
  // A process that exits without stop() (a crash, process.exit) still shuts its server down.
  const stopOnExit = () => server.child.kill('SIGINT');
  process.once('exit', stopOnExit);

  const stop = () =>
    (stopping ??= (async () => {
      process.removeListener('exit', stopOnExit);
      await terminate(server);
      if (options.persistent === false) {
        fs.rmSync(dataDir, { recursive: true, force: true });
        if (dataDir !== requested) for (const p of [path.dirname(dataDir), requested]) fs.rmSync(p, { recursive: true, force: true });
      }
    })());

  const database = options.database ?? 'minispod';
  try {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: PASSWORD, database: 'postgres' });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    } finally {
      await client.end();
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url: `postgresql://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`,
    port,
    dataDir,
    onUnexpectedExit: (listener) => void listeners.push(listener),
    restart: async () => {
      if (stopping) return false;
      if (!(await isPortFree(port))) throw new PortInUseError(port);
      const next = await start();
      if (stopping) {
        // stop() came while it was starting: this one must not outlive it.
        await terminate(next);
        return false;
      }
      server = next;
      watch(next);
      return true;
    },
    stop,
  };
}

function removeStalePidFile(dataDir: string): void {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    if (pid > 0) process.kill(pid, 0);
    return; // the process is alive: leave it, the start will report the conflict
  } catch {
    fs.rmSync(pidFile, { force: true });
  }
}
