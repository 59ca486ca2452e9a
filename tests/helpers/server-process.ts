import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/lib/embedded-postgres.js';
import { PROJECT_ROOT } from '../../src/lib/migrate.js';
import { TEST_JWT_SECRET } from './app.js';

export interface ServerProcess {
  base: string;
  port: number;
  /** DATA_DIR of the process (removed when it exits). */
  dataDir: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output: () => string;
  /** Resolves when the process has exited, with the time it exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  alive: () => boolean;
  /** Sends SIGKILL if the process is still running; for cleanup after a failed test. */
  kill: () => void;
}

/**
 * Starts `src/server.ts` as a real child process (tsx loader) against an existing database, with
 * test-friendly settings, and waits until GET /health answers 200 (or, given `until`, until that
 * says the process got far enough: a test that acts while it is still starting).
 */
export async function startServerProcess(env: Record<string, string>, readyTimeoutMs = 60_000, until?: (dataDir: string) => boolean): Promise<ServerProcess> {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'minispod-server-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      JWT_SECRET: TEST_JWT_SECRET,
      SEED_ON_FIRST_RUN: 'false',
      LOG_LEVEL: 'warn',
      LOG_FILES: 'false',
      DATA_DIR: dataDir,
      BCRYPT_COST: '4',
      RATE_LIMIT_MAX: '0',
      AUTH_RATE_LIMIT_MAX: '0',
      AUTH_RATE_LIMIT_ACCOUNT_MAX: '0',
      // The run's shared database holds every test file's events: a server here dispatches none
      // of them unless its test gives it a database of its own and turns jobs on.
      JOBS_ENABLED: 'false',
      // No simulated cluster either: its node agents would take over every node of the database.
      K8S_MODE: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.once('exit', (code, signal) => {
      removeRelocatedData(path.join(dataDir, 'postgres'));
      fs.rmSync(dataDir, { recursive: true, force: true });
      resolve({ code, signal, at: Date.now() });
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  const base = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`server exited during startup:\n${out}`);
    const up = until ? until(dataDir) : await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not healthy within ${readyTimeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, until ? 20 : 200));
  }
  return { base, port, dataDir, child, output: () => out, exited, alive, kill: () => alive() && child.kill('SIGKILL') };
}

/**
 * As root, an embedded PostgreSQL whose data directory the postgres user cannot reach (DATA_DIR
 * is made with mode 700) keeps its cluster elsewhere, DATA_DIR/postgres being a link to it
 * (see src/lib/embedded-postgres-access.ts). That cluster goes too.
 */
function removeRelocatedData(link: string): void {
  if (!fs.lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink() || !fs.existsSync(link)) return;
  const home = path.dirname(fs.realpathSync(link));
  if (fs.existsSync(path.join(home, 'source'))) fs.rmSync(home, { recursive: true, force: true });
}
