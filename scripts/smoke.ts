/**
 * The newcomer path, measured: `npm start` on the embedded default in a fresh data directory
 * (first start: initdb, migrations, seed), SIGTERM, then a warm restart on the same data.
 * Checks /health and the seeded admin login, reports time-to-healthy and idle RSS, and fails
 * when anything is wrong or shutdown does not exit 0. Usage: tsx scripts/smoke.ts [--json file]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/lib/embedded-postgres.js';

const root = path.resolve(import.meta.dirname, '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'minispod-smoke-'));
fs.chmodSync(work, 0o755);

interface Run {
  child: ChildProcess;
  output: () => string;
}

function startServer(port: number): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DATA_DIR: path.join(work, 'data'), LOG_DIR: path.join(work, 'logs'), NODE_ENV: 'development' };
  delete env.DATABASE_URL;
  const child = spawn('npm', ['start', '--silent'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  return { child, output: () => out };
}

async function waitHealthy(base: string, run: Run, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (run.child.exitCode !== null) throw new Error(`server exited early (${run.child.exitCode}):\n${run.output()}`);
    try {
      const res = await fetch(`${base}/health`);
      if (res.status === 200) return Date.now() - started;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`not healthy after ${timeoutMs} ms:\n${run.output()}`);
}

/** RSS of the process that listens on the port (npm and tsx wrap the API in child processes). */
function apiRssMb(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${port.toString(16).toUpperCase().padStart(4, '0')}`) && cols[3] === '0A') inodes.add(cols[9] ?? '');
    }
  }
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const fds = fs.readdirSync(`/proc/${pid}/fd`);
      if (fds.some((fd) => inodes.has(/socket:\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? '-'))) {
        const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
        return rss ? Math.round(Number(rss) / 1024) : undefined;
      }
    } catch {
      // process went away or is not ours to read
    }
  }
  return undefined;
}

async function stop(run: Run, timeoutMs = 20_000): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => run.child.once('exit', (code) => resolve(code)));
  run.child.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
  if (code === 'timeout') {
    run.child.kill('SIGKILL');
    throw new Error(`no exit within ${timeoutMs} ms after SIGTERM:\n${run.output()}`);
  }
  return code;
}

async function checkLogin(base: string): Promise<void> {
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'admin@paas.com', password: 'Admin123!@#' }),
  });
  const body = (await res.json()) as { data?: { user?: { role?: string }; tokens?: { accessToken?: string } } };
  if (res.status !== 200 || body.data?.user?.role !== 'ADMINISTRATOR' || !body.data.tokens?.accessToken) {
    throw new Error(`admin login failed: ${res.status} ${JSON.stringify(body)}`);
  }
}

const results: Record<string, number | undefined> = {};
try {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;

  const first = startServer(port);
  results.firstStartMs = await waitHealthy(base, first);
  await checkLogin(base);
  const firstExit = await stop(first);
  if (firstExit !== 0) throw new Error(`first run exited ${firstExit} on SIGTERM:\n${first.output()}`);

  const warm = startServer(port);
  results.warmStartMs = await waitHealthy(base, warm);
  await checkLogin(base);
  await sleep(3000);
  results.idleRssMb = apiRssMb(port);
  const warmExit = await stop(warm);
  if (warmExit !== 0) throw new Error(`warm run exited ${warmExit} on SIGTERM:\n${warm.output()}`);
  if (/Seeded \d+ users/.test(warm.output())) throw new Error('warm restart seeded again');

  console.log(`smoke ok: first start to healthy ${results.firstStartMs} ms (target < 10000), warm restart ${results.warmStartMs} ms (target < 3000), idle API RSS ${results.idleRssMb ?? '?'} MB (target < 150), SIGTERM exit 0 twice`);
  const jsonAt = process.argv.indexOf('--json');
  if (jsonAt > 0 && process.argv[jsonAt + 1]) fs.writeFileSync(process.argv[jsonAt + 1] as string, JSON.stringify(results, null, 2) + '\n');
} catch (err) {
  console.error(`smoke FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
