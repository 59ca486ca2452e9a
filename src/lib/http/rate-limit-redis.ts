import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import { Redis } from 'ioredis';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import type { Logger } from '../logger.js';
import type { RateLimitStoreFactory } from './rate-limit.js';

// A rate limit is checked on every request: Redis gets a short time to answer, or the request goes
// on unlimited. Limits are a defence, not a dependency the API may stop serving for.
const COMMAND_TIMEOUT_MS = 500;
const CONNECT_TIMEOUT_MS = 2000;
const MAX_RECONNECT_DELAY_MS = 2000;
// A connection that has carried no reply for this long while commands wait is dropped and made
// anew: a server that vanished without closing it must not cost every request the command timeout.
const SOCKET_TIMEOUT_MS = 5000;

export interface SharedRateLimits {
  /** One store per limiter, all on one connection; counters live under `<keyPrefix>rl:`. */
  store: RateLimitStoreFactory;
  /** Resolves true once Redis is ready, false at its first failure or after the connect timeout. */
  connected: () => Promise<boolean>;
  describe: () => string;
  close: () => Promise<void>;
}

/** The URL with its password replaced, for log lines. */
export function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '****';
  return u.toString();
}

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err)) || 'connection lost';

/**
 * Rate-limit counters in Redis, shared by every API process that points at it. While Redis cannot
 * be reached, requests are served without limits (fail open): one error line when the outage
 * starts and one line when Redis answers again, never one per request.
 */
export function createRedisRateLimits({ url, keyPrefix, logger }: { url: string; keyPrefix: string; logger: Logger }): SharedRateLimits {
  const where = redactUrl(url);
  const prefix = `${keyPrefix}rl:`;
  const client = new Redis(url, {
    // Without a connection a command fails at once instead of queueing until Redis returns.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
    // Reconnect for ever: the limits resume by themselves when Redis is back.
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), MAX_RECONNECT_DELAY_MS),
  });

  let up: boolean | undefined;
  let closing = false;
  const failed = (err: unknown) => {
    if (closing || up === false) return;
    up = false;
    logger.error(`Redis at ${where} unreachable (${reason(err)}): rate limits are not enforced until it is back`);
  };
  const answered = () => {
    if (up === false) logger.info(`Redis at ${where} is back: rate limits are enforced again`);
    up = true;
  };
  // Handled here, an 'error' event never reaches the process; ioredis keeps reconnecting.
  client.on('error', failed);
  client.on('close', () => failed(new Error('connection closed')));
  client.on('ready', answered);

  const firstContact = new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      client.off('ready', onReady).off('error', onError);
      clearTimeout(timer);
      resolve(ok);
    };
    const onReady = () => done(true);
    const onError = () => done(false);
    const timer = setTimeout(() => done(false), CONNECT_TIMEOUT_MS);
    timer.unref();
    client.once('ready', onReady).once('error', onError);
  });

  const link: Link = { usable: () => client.status === 'ready', failed, answered };
  const sendCommand = (...args: string[]) => client.call(...(args as [string, ...string[]])) as Promise<RedisReply>;

  return {
    store: () => failOpen(new RedisStore({ prefix, sendCommand }), link),
    connected: () => firstContact,
    describe: () => `shared through Redis at ${where} (keys ${prefix}*)${up ? '' : ', which does not answer yet: not enforced until it does'}`,
    close: async () => {
      closing = true;
      if (client.status === 'ready') await client.quit().catch(() => undefined);
      client.disconnect();
    },
  };
}

interface Link {
  usable: () => boolean;
  failed: (err: unknown) => void;
  answered: () => void;
}

/** A RedisStore that lets the request through (and reports the outage) whenever Redis fails. */
function failOpen(inner: RedisStore, link: Link): Store {
  let options: Options | undefined;
  // rate-limit-redis keeps the promise of its first script load: had Redis been down then, every
  // later call would fail on that same rejected promise. Load again until a load succeeds.
  let scripts: Promise<void> | undefined;
  const prepare = () =>
    (scripts ??= (options ? inner.init(options) : Promise.reject(new Error('store used before init'))).catch((err: unknown) => {
      scripts = undefined;
      throw err;
    }));
  const guarded = async <T>(fallback: () => T, run: () => Promise<T>): Promise<T> => {
    if (!link.usable()) return fallback();
    try {
      await prepare();
      const result = await run();
      link.answered();
      return result;
    } catch (err) {
      link.failed(err);
      return fallback();
    }
  };
  // express-rate-limit wants at least one hit and a reset time: report this request as the first.
  const unlimited = (): ClientRateLimitInfo => ({ totalHits: 1, resetTime: new Date(Date.now() + (options?.windowMs ?? 60_000)) });
  const nothing = () => undefined;

  return {
    prefix: inner.prefix,
    localKeys: false,
    init: (opts) => {
      options = opts;
      if (link.usable()) void guarded(nothing, async () => undefined);
    },
    get: (key) => guarded(nothing, () => inner.get(key)),
    increment: (key) => guarded(unlimited, () => inner.increment(key)),
    decrement: (key) => guarded(nothing, () => inner.decrement(key)),
    resetKey: (key) => guarded(nothing, () => inner.resetKey(key)),
  };
}
