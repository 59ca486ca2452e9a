import { parseArgs } from 'node:util';
import { runAgent } from './agent.js';
import { collectFacts } from './system.js';

const USAGE = `minispod node agent: reports this machine to the worker-node registry and keeps it alive.

Usage: npm run agent -- --api URL --node ID --token TOKEN [--interval SECONDS] [--disk PATH]

  --api       API base URL (default http://localhost:3000/api/v1)      env MINISPOD_API
  --node      the node's id or name in the registry                      env MINISPOD_NODE_ID
  --token     the node's agent token (POST /workers returns it once)     env MINISPOD_AGENT_TOKEN
  --interval  seconds between heartbeats (default: what the API asks for, 10 s)
  --disk      filesystem whose size is reported as storage (default /)

Prefer the environment variable for the token: command-line arguments are visible to other users in \`ps\`.`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function apiBase(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail(`--api: not a URL: ${raw}`);
  }
  // Accept the bare server address too.
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/api/v1';
  return url.toString().replace(/\/+$/, '');
}

const { values } = parseArgs({
  options: {
    api: { type: 'string' },
    node: { type: 'string' },
    token: { type: 'string' },
    interval: { type: 'string' },
    disk: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const api = apiBase(values.api ?? process.env.MINISPOD_API ?? 'http://localhost:3000/api/v1');
const nodeId = values.node ?? process.env.MINISPOD_NODE_ID;
const token = values.token ?? process.env.MINISPOD_AGENT_TOKEN;
if (!nodeId) fail('Missing --node (or MINISPOD_NODE_ID)');
if (!token) fail('Missing --token (or MINISPOD_AGENT_TOKEN)');
const intervalSeconds = values.interval === undefined ? undefined : Number(values.interval);
if (intervalSeconds !== undefined && !(Number.isInteger(intervalSeconds) && intervalSeconds >= 1 && intervalSeconds <= 3600)) fail('--interval must be a whole number of seconds between 1 and 3600');

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`${signal} received: stopping`);
    controller.abort();
  });
}

const log = (message: string) => console.log(`${new Date().toISOString()} ${message}`);
log(`minispod agent for node ${nodeId} -> ${api}`);
try {
  await runAgent({ api, nodeId, token, intervalSeconds, facts: () => collectFacts(values.disk ?? '/'), log }, controller.signal);
  log('Agent stopped');
} catch (err) {
  console.error(`${new Date().toISOString()} ${(err as Error).message}`);
  process.exit(1);
}
