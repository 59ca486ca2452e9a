import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../src/lib/embedded-postgres.js';
import { PROJECT_ROOT } from '../src/lib/migrate.js';
import type { BenchOptions } from './options.js';

export interface Server {
  name: string;
  base: string;
  pid: number;
  /** Output of the child, kept for the report when it fails. */
  output: () => string;
  stop: () => Promise<void>;
}

/** Compiles src/ to dist/ when it is stale, exactly as `npm start` does. */
export function ensureBuild(): void {
  const result = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'scripts', 'ensure-build.mjs')], { cwd: PROJECT_ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('Build failed (scripts/ensure-build.mjs)');
}

async function waitFor(url: string, child: ChildProcess, output: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: the process exited with ${child.exitCode}\n${output()}`);
    const up = await fetch(url).then((r) => r.ok, () => false);
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000}s\n${output()}`);
}

async function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, readyPath: string): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env: { ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  // Only the tail is kept: a chatty child must not grow the bench's own memory.
  const keep = (chunk: Buffer) => (out = (out + chunk.toString()).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const base = `http://127.0.0.1:${port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(killer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  try {
    await waitFor(base + readyPath, child, () => out);
  } catch (err) {
    await stop();
    throw err;
  }
  return { name, base, pid: child.pid as number, output: () => out, stop };
}

/** The API as `npm start` runs it (same Node flags), in production mode, with rate limits off so they do not cap the load. */
export function startApi(databaseUrl: string, options: BenchOptions): Promise<Server> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: databaseUrl,
    NODE_ENV: 'production',
    JWT_SECRET: randomBytes(48).toString('base64url'),
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    RATE_LIMIT_MAX: '0',
    AUTH_RATE_LIMIT_MAX: '0',
    AUTH_RATE_LIMIT_ACCOUNT_MAX: '0',
    LOG_LEVEL: 'warn',
    LOG_FILES: 'false',
    SEED_ON_FIRST_RUN: 'false',
    SWEEPER_INTERVAL_SECONDS: '0',
    // The webhooks scenario's receiver listens on loopback, over plain http.
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOW_IPS: '127.0.0.1',
    BCRYPT_COST: String(options.bcryptCost),
    ...(options.poolMax ? { DATABASE_POOL_MAX: String(options.poolMax) } : {}),
  };
  return startChild('api', ['--max-semi-space-size=16', '--max-old-space-size=192', 'dist/src/server.js'], env, '/health');
}

/** The bare Express app as Express serves it (`stock`), or served by the API's createHttpServer (`prototypes`). */
export function startCeiling(server: 'stock' | 'prototypes' = 'stock'): Promise<Server> {
  const env = { PATH: process.env.PATH, NODE_ENV: 'production', CEILING_SERVER: server };
  return startChild(server === 'stock' ? 'ceiling' : 'ceiling-prototypes', [path.join(PROJECT_ROOT, 'bench', 'ceiling-server.mjs')], env, '/ceiling');
}

function readStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface RssMonitor {
  /** Highest resident set size seen by polling, and the kernel's own high-water mark, in MB. */
  read: () => { peakMb: number; hwmMb: number | undefined };
  stop: () => void;
}

/** Polls VmRSS of a process; VmHWM (the kernel's peak) catches spikes between two polls. */
export function monitorRss(pid: number, everyMs = 200): RssMonitor {
  let peakKb = 0;
  let hwmKb: number | undefined;
  const poll = () => {
    peakKb = Math.max(peakKb, readStatusKb(pid, 'VmRSS') ?? 0);
    hwmKb = readStatusKb(pid, 'VmHWM') ?? hwmKb;
  };
  poll();
  const timer = setInterval(poll, everyMs);
  timer.unref();
  const mb = (kb: number) => Math.round(kb / 102.4) / 10;
  return {
    read: () => {
      poll();
      return { peakMb: mb(peakKb), hwmMb: hwmKb === undefined ? undefined : mb(hwmKb) };
    },
    stop: () => clearInterval(timer),
  };
}
