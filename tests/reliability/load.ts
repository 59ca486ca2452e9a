import type http from 'node:http';
import { sendRaw } from '../helpers/fuzz-requests.js';

export interface Outcome {
  label: string;
  startedAt: number;
  ms: number;
  status?: number;
  code?: string;
  body?: Record<string, unknown>;
  /** A transport error (refused, reset, client timeout) instead of an HTTP response. */
  error?: string;
}

export interface Call {
  label: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

/** Sends one call and records what came back, never throwing: the tests judge outcomes afterwards. */
export async function attempt(base: string, call: Call, timeoutMs: number, agent?: http.Agent): Promise<Outcome> {
  const startedAt = Date.now();
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  const headers = { ...(body ? { 'content-type': 'application/json' } : {}), ...call.headers };
  try {
    const res = await sendRaw(base, { method: call.method, path: call.path, headers, body }, timeoutMs, agent);
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = JSON.parse(res.text) as Record<string, unknown>;
    } catch {
      parsed = undefined;
    }
    return { label: call.label, startedAt, ms: res.ms, status: res.status, code: parsed?.code as string | undefined, body: parsed };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { label: call.label, startedAt, ms: Date.now() - startedAt, error: e.code ?? e.message ?? String(err) };
  }
}

/**
 * Keeps `concurrency` clients sending calls back to back until `stop()`; returns every outcome.
 * Each client waits for its answer before the next call, as a real client would.
 */
export function flow(base: string, calls: Call[], { concurrency = 8, timeoutMs = 5000 } = {}) {
  const outcomes: Outcome[] = [];
  let running = true;
  let n = 0;
  const clients = Array.from({ length: concurrency }, async () => {
    while (running) {
      const call = calls[n++ % calls.length] as Call;
      outcomes.push(await attempt(base, call, timeoutMs));
    }
  });
  return {
    outcomes,
    stop: async () => {
      running = false;
      await Promise.all(clients);
      return outcomes;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true, or throws after `timeoutMs`. Returns how long it took. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000, everyMs = 100): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
  return Date.now() - started;
}
