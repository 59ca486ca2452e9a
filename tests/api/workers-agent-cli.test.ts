import { spawn } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { backoffDelay, runAgent, type AgentOptions } from '../../src/agent/agent.js';
import { collectFacts } from '../../src/agent/system.js';
import { createNode } from '../factories/index.js';
import { createTestContext } from '../helpers/app.js';

// The reference agent against the real API listening on an ephemeral port.
const ctx = createTestContext();
const { db } = ctx;
const servers: Server[] = [];

const listen = (port = 0) =>
  new Promise<Server>((resolve, reject) => {
    const server = ctx.app.listen(port, '127.0.0.1');
    server.once('listening', () => resolve(server)).once('error', reject);
    servers.push(server);
  });
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));
const portOf = (server: Server) => (server.address() as AddressInfo).port;

let api: string;
beforeAll(async () => {
  api = `http://127.0.0.1:${portOf(await listen())}/api/v1`;
});
afterAll(async () => {
  for (const s of servers) if (s.listening) await close(s);
  await ctx.close();
});

/** Records what the agent sends and lets a test stop it after a number of waits. */
function harness(stopAfterWaits: number, onWait?: (count: number) => Promise<void> | void) {
  const controller = new AbortController();
  const bodies: unknown[] = [];
  const waits: number[] = [];
  const logs: string[] = [];
  const recordingFetch: typeof fetch = async (input, init) => {
    bodies.push(JSON.parse(String(init?.body)));
    return fetch(input, init);
  };
  const options: Pick<AgentOptions, 'fetch' | 'sleep' | 'log' | 'facts' | 'random'> = {
    fetch: recordingFetch,
    log: (m) => logs.push(m),
    facts: () => collectFacts(),
    random: () => 0.5,
    sleep: async (ms) => {
      waits.push(ms);
      await onWait?.(waits.length);
      if (waits.length >= stopAfterWaits) controller.abort();
    },
  };
  return { controller, bodies, waits, logs, options };
}

describe('reference node agent', () => {
  it("reports this machine's real CPUs, memory, disk and OS once, then plain heartbeats at the interval the API asks for", async () => {
    const { node, agentToken } = await createNode(db);
    const h = harness(3);
    await runAgent({ api, nodeId: node.name, token: agentToken, ...h.options }, h.controller.signal);

    const facts = await collectFacts();
    expect(h.bodies).toEqual([facts, {}, {}]);
    expect(h.waits).toEqual([10_000, 10_000, 10_000]);
    expect(facts).toMatchObject({ cpuCores: os.availableParallelism(), totalMemory: Math.floor(os.totalmem() / 2 ** 20), kernelVersion: os.release() });
    const row = await db.workerNode.findUniqueOrThrow({ where: { id: node.id } });
    expect(row).toMatchObject({ status: 'ACTIVE', isReady: true, cpuCores: facts.cpuCores, totalMemory: BigInt(facts.totalMemory), totalStorage: BigInt(facts.totalStorage), kernelVersion: facts.kernelVersion, osImage: facts.osImage });
  });

  it('backs off exponentially with jitter while the API is down, then recovers', async () => {
    const { node, agentToken } = await createNode(db);
    const probe = await listen();
    const port = portOf(probe);
    await close(probe);
    // After the third failed attempt the API comes (back) up on that port.
    const h = harness(4, async (count) => {
      if (count === 3) await listen(port);
    });
    await runAgent({ api: `http://127.0.0.1:${port}/api/v1`, nodeId: node.id, token: agentToken, ...h.options }, h.controller.signal);

    expect(h.waits).toEqual([750, 1500, 3000, 10_000]);
    expect(h.logs.join('\n')).toMatch(/ECONNREFUSED/);
    expect(h.logs.join('\n')).toMatch(/reachable again after 3 failed/);
    expect((await db.workerNode.findUniqueOrThrow({ where: { id: node.id } })).status).toBe('ACTIVE');
  });

  it('honours Retry-After on 503 and uses an explicit interval', async () => {
    const { node, agentToken } = await createNode(db);
    let calls = 0;
    const h = harness(2);
    const flaky: typeof fetch = async (input, init) => {
      if (++calls === 1) return new Response('{}', { status: 503, headers: { 'Retry-After': '7' } });
      return h.options.fetch!(input, init);
    };
    await runAgent({ api, nodeId: node.id, token: agentToken, intervalSeconds: 2, ...h.options, fetch: flaky }, h.controller.signal);
    expect(h.waits).toEqual([7000, 2000]);
  });

  it('keeps the node alive with plain heartbeats when the API refuses its facts', async () => {
    const { node, agentToken } = await createNode(db, { totalMemory: 10n ** 9n, allocatedMemory: 10n ** 9n });
    const h = harness(1);
    await runAgent({ api, nodeId: node.id, token: agentToken, ...h.options }, h.controller.signal);
    expect(h.bodies).toEqual([expect.objectContaining({ totalMemory: expect.any(Number) }), {}]);
    expect(h.logs.join('\n')).toMatch(/refused this machine's facts/);
    expect(await db.workerNode.findUniqueOrThrow({ where: { id: node.id } })).toMatchObject({ status: 'ACTIVE', totalMemory: 10n ** 9n });
  });

  it('stops with an error when its token is refused', async () => {
    const { node, agentToken } = await createNode(db);
    await db.workerNode.update({ where: { id: node.id }, data: { agentTokenHash: null } });
    const h = harness(10);
    await expect(runAgent({ api, nodeId: node.id, token: agentToken, ...h.options }, h.controller.signal)).rejects.toThrow(/HTTP 401/);
    expect(h.waits).toEqual([]);
  });

  it('stops promptly when aborted while waiting for the next beat', async () => {
    const { node, agentToken } = await createNode(db);
    const controller = new AbortController();
    const sent = vi.fn();
    const run = runAgent(
      { api, nodeId: node.id, token: agentToken, intervalSeconds: 3600, facts: () => collectFacts(), fetch: async (i, init) => fetch(i, init).finally(sent) },
      controller.signal,
    );
    await vi.waitFor(() => expect(sent).toHaveBeenCalled());
    controller.abort();
    await run;
    expect(sent).toHaveBeenCalledTimes(1);
  });
});

describe('backoffDelay', () => {
  it('doubles per failure with half of each step random, capped at 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffDelay(n, () => 0))).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
    expect([1, 2, 6, 20].map((n) => backoffDelay(n, () => 1))).toEqual([1000, 2000, 30_000, 30_000]);
  });
});

describe('npm run agent', () => {
  const cli = (args: string[], env: Record<string, string> = {}) =>
    spawn(process.execPath, ['--import', 'tsx', 'src/agent/cli.ts', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = (child: ReturnType<typeof cli>) =>
    new Promise<{ code: number | null; output: string }>((resolve) => {
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.on('close', (code) => resolve({ code, output }));
    });

  it('reads its settings from the environment, heartbeats, and exits 0 on SIGTERM', async () => {
    const { node, agentToken } = await createNode(db);
    const child = cli(['--interval', '1'], { MINISPOD_API: api.replace('/api/v1', ''), MINISPOD_NODE_ID: node.id, MINISPOD_AGENT_TOKEN: agentToken });
    const done = exited(child);
    await vi.waitFor(async () => expect((await db.workerNode.findUniqueOrThrow({ where: { id: node.id } })).status).toBe('ACTIVE'), { timeout: 20_000, interval: 100 });
    child.kill('SIGTERM');
    const { code, output } = await done;
    expect(output).toMatch(/SIGTERM received/);
    expect(output).toMatch(/Agent stopped/);
    expect(code).toBe(0);
  });

  it('exits 2 with the usage when the token is missing', async () => {
    const { code, output } = await exited(cli(['--node', 'n1'], { MINISPOD_AGENT_TOKEN: '' }));
    expect(code).toBe(2);
    expect(output).toMatch(/Missing --token/);
  });
});
