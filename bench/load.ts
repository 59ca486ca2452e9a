// The load generator: a child process of the bench (so it is never the API's own event loop that
// produces load). It receives one LoadSpec over IPC, runs autocannon, and answers a LoadResult.
import autocannon from 'autocannon';
import { runInChild, serveInChild } from './child.js';

export interface LoadSpec {
  base: string;
  connections: number;
  /** Seconds measured. */
  duration: number;
  /** Seconds of unrecorded load first. */
  warmup: number;
  method: 'GET' | 'POST';
  /** Rotated per request, each with its own counter position: request k uses paths[k % n], headers[k % m], bodies[k % b]. */
  paths: string[];
  headers: Record<string, string>[];
  bodies?: string[];
  /** Fixed request rate (a probe) instead of as fast as the server answers. */
  overallRate?: number;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
}

async function run(spec: LoadSpec, seconds: number): Promise<LoadResult> {
  const url = new URL(spec.base);
  let k = 0;
  const result = await autocannon({
    url: spec.base,
    connections: spec.connections,
    duration: seconds,
    overallRate: spec.overallRate,
    timeout: 30,
    requests: [
      {
        method: spec.method,
        setupRequest: (req) => {
          const i = k++;
          const body = spec.bodies && spec.bodies.length > 0 ? spec.bodies[i % spec.bodies.length] : undefined;
          return {
            ...req,
            method: spec.method,
            path: spec.paths[i % spec.paths.length] as string,
            headers: { host: url.host, ...spec.headers[i % spec.headers.length], ...(body !== undefined && { 'content-type': 'application/json' }) },
            ...(body !== undefined && { body }),
          };
        },
      },
    ],
  });
  const done = result.requests.total;
  return {
    requests: done,
    rps: Math.round((done / result.duration) * 10) / 10,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds: result.duration,
  };
}

/** Runs one load in a fresh child process and resolves with its measurement. */
export const runLoad = (spec: LoadSpec) => runInChild<LoadSpec, LoadResult>(import.meta.url, spec, 'load generator');

serveInChild(async (spec: LoadSpec) => {
  if (spec.warmup > 0) await run(spec, spec.warmup);
  return run(spec, spec.duration);
});
