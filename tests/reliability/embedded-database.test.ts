import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { attempt, sleep, waitFor } from './load.js';

// The real server on its own embedded PostgreSQL (no DATABASE_URL, as `npm start` runs it), which
// the test kills the way a crash or the OOM killer would. Before, the API then answered 503 for
// good and logged warnings only.
const EMBEDDED = { DATABASE_URL: '', EMBEDDED_PG_PORT: '0' };
const servers: ServerProcess[] = [];
const figures: string[] = [];

afterAll(() => {
  for (const server of servers) server.kill();
  // eslint-disable-next-line no-console
  console.log(`embedded database: ${figures.join('; ')}`);
});

async function startEmbedded(): Promise<ServerProcess> {
  const server = await startServerProcess(EMBEDDED, 120_000);
  servers.push(server);
  return server;
}

/** The postmaster of the server's embedded PostgreSQL (its pid file: pid, data directory, start time, port). */
function postmaster(server: ServerProcess): { pid: number; port: number } {
  const [pid, , , port] = fs.readFileSync(path.join(server.dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n');
  return { pid: Number(pid), port: Number(port) };
}

/** Whether a postmaster other than `pid` has written the pid file (it may be missing mid-restart). */
function restarted(server: ServerProcess, pid: number): boolean {
  try {
    const current = postmaster(server).pid;
    return current !== pid && current > 0;
  } catch {
    return false;
  }
}

const status = async (server: ServerProcess, p: string) => (await attempt(server.base, { label: p, method: 'get', path: p }, 5000)).status;
const problems = (output: string) => output.split('\n').filter((line) => /\b(warn|error)\b/i.test(line));

describe('the embedded PostgreSQL dies while the API runs', () => {
  let server: ServerProcess;

  it('is logged as an error, restarted, and the API recovers by itself', async () => {
    server = await startEmbedded();
    expect(await status(server, '/api/v1/services')).toBe(200);
    const before = postmaster(server);
    process.kill(before.pid, 'SIGKILL');
    const killedAt = Date.now();

    // The killed postmaster's backends may answer the pool's open connections for a moment, so the
    // API serving proves nothing until the supervisor has noticed the death and started a new one.
    await waitFor('the supervisor to report the death', async () => /Embedded PostgreSQL stopped unexpectedly/.test(server.output()), 30_000, 50);
    const recovery = await waitFor(
      'the API to serve from a new postmaster',
      async () => restarted(server, before.pid) && (await status(server, '/api/v1/services')) === 200 && (await status(server, '/health')) === 200,
      30_000,
      50,
    );
    const after = postmaster(server);
    expect(after.pid).not.toBe(before.pid);
    expect(after.port).toBe(before.port);
    expect(server.alive()).toBe(true);
    expect(server.output()).toMatch(/error.*Embedded PostgreSQL stopped unexpectedly \(killed by SIGKILL/);
    figures.push(`killed, serving again ${Date.now() - killedAt} ms later (polled ${recovery} ms)`);
  }, 150_000);

  it('then stops cleanly on SIGTERM: exit 0, no warning, no error', async () => {
    // Idle connections in the pool when the embedded server is shut down after it.
    await Promise.all(Array.from({ length: 20 }, () => status(server, '/api/v1/services')));
    const { pid } = postmaster(server);
    const logged = server.output().length;
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(problems(server.output().slice(logged))).toEqual([]);
    expect(() => process.kill(pid, 0), 'PostgreSQL still runs').toThrow();
  }, 30_000);
});

describe('the embedded PostgreSQL cannot come back', () => {
  it('exits non-zero after the restart attempts, so that a process manager restarts the whole service', async () => {
    const server = await startEmbedded();
    const { pid, port } = postmaster(server);
    process.kill(pid, 'SIGKILL');
    const killedAt = Date.now();
    // Another program takes the port before the first restart attempt (500 ms later).
    const squatter = net.createServer();
    await waitFor(
      'the port to be free',
      () => new Promise<boolean>((resolve) => squatter.once('error', () => resolve(false)).listen(port, '127.0.0.1', () => resolve(true))),
      5000,
      10,
    );
    try {
      const exit = await Promise.race([server.exited, sleep(60_000).then(() => undefined)]);
      expect(exit).toMatchObject({ code: 1 });
      const output = server.output();
      expect(output).toMatch(/Embedded PostgreSQL stopped unexpectedly/);
      expect(output).toMatch(/restart attempt 5 of 5 failed: Port \d+ is already in use/);
      expect(output).toMatch(/error.*Embedded PostgreSQL could not be restarted .*exiting so that a process manager restarts minispod/);
      figures.push(`port taken: exit ${exit?.code} ${((exit?.at ?? 0) - killedAt) / 1000} s after the kill`);
    } finally {
      squatter.close();
    }
  }, 150_000);
});

describe('a signal while starting', () => {
  it('stops the embedded PostgreSQL and exits 0 when SIGTERM arrives before the start is done', async () => {
    // Signalled the moment initdb has made the cluster: migrations, the seed and /health are
    // seconds away. Before, the signal found no handler and killed the process, leaving its
    // PostgreSQL running without it (and `npm start` exiting without a code).
    const server = await startServerProcess({ ...EMBEDDED, LOG_LEVEL: 'info' }, 120_000, (dataDir) => fs.existsSync(path.join(dataDir, 'postgres', 'PG_VERSION')));
    servers.push(server);
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    expect(exit, server.output()).toMatchObject({ code: 0, signal: null });
    expect(server.output()).toMatch(/SIGTERM received while starting[\s\S]*Shutdown complete/);
  }, 120_000);
});
