// The load generator: a child process of the bench (so it is never the API's own event loop that
// produces load). It receives LoadSpecs over IPC, runs autocannon for each in turn, and answers
// what each one measured.
import autocannon from 'autocannon';
import { runInChild, serveInChild } from './child.js';

export interface LoadSpec {
  base: string;
  connections: number;
  /** Seconds measured. */
  duration: number;
  /** Seconds of unrecorded load first, on the same connections. */
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

/** The value below which a share `q` of the sorted values lies (nearest rank). */
const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
const round = (ms: number) => Math.round(ms * 10) / 10;

/** What one run measured, before it is summed up with others. */
interface Slice {
  latencies: number[];
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
}

/**
 * One continuous run of warm-up plus measurement on the same connections; only the responses
 * that complete inside the measured window count. Two separate runs would abandon the warm-up's
 * requests in flight, and the server would spend the start of the measurement on them: for
 * logins, which take seconds each, that alone cost a fifth of the measured rate.
 */
async function run(spec: LoadSpec): Promise<Slice> {
  const url = new URL(spec.base);
  let k = 0;
  const instance = autocannon({
    url: spec.base,
    connections: spec.connections,
    duration: spec.warmup + spec.duration,
    overallRate: spec.overallRate,
    timeout: 30,
    // autocannon stops at its first sample after the duration: the default of a second would add up
    // to a second of unrecorded load to a run whose duration is not a whole number of seconds.
    sampleInt: 100,
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
  const from = performance.now() + spec.warmup * 1000;
  const to = from + spec.duration * 1000;
  const latencies: number[] = [];
  let non2xx = 0;
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    const now = performance.now();
    if (spec.duration === 0 || now < from || now > to) return;
    latencies.push(responseTime);
    if (statusCode < 200 || statusCode > 299) non2xx++;
  });
  const result = await instance;
  // Over the whole run, warm-up included: an error anywhere counts.
  return { latencies, non2xx, errors: result.errors, timeouts: result.timeouts, seconds: spec.duration };
}

/** Several runs as one measurement: their requests over their seconds, percentiles over all their latencies. */
export function pool(slices: Slice[]): LoadResult {
  const latencies = slices.flatMap((s) => s.latencies).sort((a, b) => a - b);
  const seconds = slices.reduce((n, s) => n + s.seconds, 0);
  const sum = (key: 'non2xx' | 'errors' | 'timeouts') => slices.reduce((n, s) => n + s[key], 0);
  return {
    requests: latencies.length,
    rps: seconds > 0 ? Math.round((latencies.length / seconds) * 10) / 10 : 0,
    p50: round(percentile(latencies, 0.5)),
    p90: round(percentile(latencies, 0.9)),
    p99: round(percentile(latencies, 0.99)),
    max: round(latencies.at(-1) ?? 0),
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
    seconds,
  };
}

/** Runs one load in a fresh child process and resolves with its measurement. */
export const runLoad = async (spec: LoadSpec): Promise<LoadResult> => pool(await runLoads([spec]));

/** Runs loads one after the other, without a pause, in one fresh child process; resolves with each one's slice. */
export const runLoads = (specs: LoadSpec[]) => runInChild<LoadSpec[], Slice[]>(import.meta.url, specs, 'load generator');

serveInChild(async (specs: LoadSpec[]) => {
  const slices: Slice[] = [];
  for (const spec of specs) slices.push(await run(spec));
  return slices;
});
