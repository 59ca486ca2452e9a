// The login ceiling: bcrypt.compare in a loop, in its own process, with as many compares in flight
// as libuv's thread pool runs at once (UV_THREADPOOL_SIZE, 4 by default), exactly like the API's.
import bcrypt from 'bcrypt';
import { runInChild, serveInChild } from './child.js';

export interface RawBcryptSpec {
  cost: number;
  duration: number;
  warmup: number;
  concurrency: number;
}

export interface RawBcryptResult {
  comparesPerSecond: number;
  compares: number;
  concurrency: number;
  /** Compares per second of each run, when the result is a mean of several. */
  runs?: number[];
}

async function measure(hash: string, seconds: number, concurrency: number): Promise<number> {
  const end = Date.now() + seconds * 1000;
  let done = 0;
  const lane = async () => {
    while (Date.now() < end) {
      await bcrypt.compare('Bench-User-Pass-1!', hash);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return done;
}

async function child(spec: RawBcryptSpec): Promise<RawBcryptResult> {
  const hash = await bcrypt.hash('Bench-User-Pass-1!', spec.cost);
  if (spec.warmup > 0) await measure(hash, spec.warmup, spec.concurrency);
  const t0 = Date.now();
  const compares = await measure(hash, spec.duration, spec.concurrency);
  // The lanes finish their last compare after the deadline: divide by the time really taken.
  return { comparesPerSecond: Math.round((compares / ((Date.now() - t0) / 1000)) * 100) / 100, compares, concurrency: spec.concurrency };
}

/** libuv's pool size for a process started with this environment. */
export const threadPoolSize = (env: NodeJS.ProcessEnv = process.env) => Number(env.UV_THREADPOOL_SIZE) || 4;

export const measureRawBcrypt = (spec: RawBcryptSpec) => runInChild<RawBcryptSpec, RawBcryptResult>(import.meta.url, spec, 'bcrypt measurement');

serveInChild(child);
