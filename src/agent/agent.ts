import { setTimeout as delay } from 'node:timers/promises';
import type { NodeFacts } from './system.js';

/**
 * The reference node agent: tells the registry what this machine is, then renews its liveness
 * with a heartbeat on an interval. While the API is unreachable it backs off exponentially with
 * jitter, so a fleet of agents does not hammer an API that is coming back up all at once.
 */

export interface AgentOptions {
  /** Base URL of the API, e.g. http://localhost:3000/api/v1 */
  api: string;
  nodeId: string;
  token: string;
  /** Seconds between heartbeats; by default the interval the API asks for (10 s when it says nothing). */
  intervalSeconds?: number;
  facts: () => Promise<NodeFacts>;
  log?: (message: string) => void;
  fetch?: typeof fetch;
  random?: () => number;
  /** Waits `ms`, or less when the signal aborts. Replaceable in tests. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const DEFAULT_INTERVAL_SECONDS = 10;
const BACKOFF_BASE_MS = 1000;
const BACKOFF_CAP_MS = 30_000;
const REQUEST_TIMEOUT_MS = 10_000;

/** Exponential backoff with "equal jitter": half the step is fixed, half random, capped at 30 s. */
export function backoffDelay(failures: number, random: () => number = Math.random): number {
  const step = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}

const abortableSleep = async (ms: number, signal: AbortSignal) => {
  await delay(ms, undefined, { signal }).catch(() => undefined);
};

type Outcome = { kind: 'ok'; intervalSeconds?: number; status?: string } | { kind: 'retry'; reason: string; retryAfterMs?: number } | { kind: 'rejected'; status: number; message: string };

/** Runs until the signal aborts (resolves) or the API refuses the agent for good (rejects). */
export async function runAgent(options: AgentOptions, signal: AbortSignal): Promise<void> {
  const { api, nodeId, token, log = () => undefined, random = Math.random, sleep = abortableSleep } = options;
  const doFetch = options.fetch ?? fetch;
  const url = `${api.replace(/\/+$/, '')}/workers/${encodeURIComponent(nodeId)}/heartbeat`;

  const beat = async (body: object): Promise<Outcome> => {
    let res: Response;
    try {
      res = await doFetch(url, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      });
    } catch (err) {
      return { kind: 'retry', reason: (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message };
    }
    const payload = (await res.json().catch(() => ({}))) as { message?: string; data?: { heartbeatIntervalSeconds?: number; status?: string } };
    if (res.ok) return { kind: 'ok', intervalSeconds: payload.data?.heartbeatIntervalSeconds, status: payload.data?.status };
    if (res.status === 429 || res.status >= 500) {
      const retryAfter = Number(res.headers.get('retry-after'));
      return { kind: 'retry', reason: `HTTP ${res.status}`, retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined };
    }
    return { kind: 'rejected', status: res.status, message: payload.message ?? res.statusText };
  };

  let facts: NodeFacts | undefined = await options.facts();
  let failures = 0;
  let intervalSeconds = options.intervalSeconds ?? DEFAULT_INTERVAL_SECONDS;
  let lastStatus: string | undefined;

  while (!signal.aborted) {
    const outcome = await beat(facts ?? {});
    if (signal.aborted) break;
    let waitMs: number;
    if (outcome.kind === 'ok') {
      if (failures > 0) log(`API reachable again after ${failures} failed attempt(s)`);
      if (facts) log(`Reported this machine: ${facts.cpuCores} CPUs, ${facts.totalMemory} MB memory, ${facts.totalStorage} MB disk, ${facts.osImage}`);
      if (outcome.status !== lastStatus) log(`Node status: ${outcome.status ?? 'unknown'}`);
      lastStatus = outcome.status;
      facts = undefined;
      failures = 0;
      intervalSeconds = options.intervalSeconds ?? outcome.intervalSeconds ?? intervalSeconds;
      waitMs = intervalSeconds * 1000;
    } else if (outcome.kind === 'retry') {
      failures++;
      waitMs = Math.max(outcome.retryAfterMs ?? 0, backoffDelay(failures, random));
      log(`Heartbeat failed (${outcome.reason}); retrying in ${(waitMs / 1000).toFixed(1)}s`);
    } else if (outcome.status === 400 && facts) {
      // The registry refused what this machine reported (e.g. less memory than is allocated on it):
      // keep the node alive with plain heartbeats and let an operator look.
      log(`The API refused this machine's facts: ${outcome.message}. Sending plain heartbeats.`);
      facts = undefined;
      continue;
    } else {
      throw new Error(`The API refused the heartbeat (HTTP ${outcome.status}): ${outcome.message}`);
    }
    await sleep(waitMs, signal);
  }
}
