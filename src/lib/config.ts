import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { decodeEncryptionKey, ENCRYPTION_KEY_BYTES, generateEncryptionKey } from './crypto.js';
import { findKubeconfig } from './kubeconfig.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const csv = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));
/** An address or a CIDR range, in the forms request-filtering-agent matches. */
const ipOrRange = (s: string) => (s.includes('/') ? ipaddr.isValidCIDR(s) : net.isIP(s) !== 0);

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Express `trust proxy`: false/true, a hop count, or a list of addresses/subnets. */
const trustProxy = z.string().transform((v): boolean | number | string[] => {
  if (v === 'false' || v === '') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  return v.split(',').map((x) => x.trim());
});

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: int(0, 65535).default(3000),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATABASE_POOL_MAX: int(1, 200).default(10),
  DATABASE_CONNECT_TIMEOUT_MS: int(100, 60_000).default(2000),
  DATA_DIR: z.string().default('.data'),
  EMBEDDED_PG_PORT: int(0, 65535).default(0),
  SEED_ON_FIRST_RUN: bool.default(true),
  JWT_SECRET: z.string().optional(),
  JWT_ISSUER: z.string().min(1).default('minispod'),
  JWT_AUDIENCE: z.string().min(1).default('minispod-api'),
  ACCESS_TOKEN_TTL_SECONDS: int(30, 86_400).default(900),
  REFRESH_TOKEN_TTL_SECONDS: int(60, 90 * 86_400).default(7 * 86_400),
  REFRESH_TOKEN_REUSE_INTERVAL_SECONDS: int(0, 300).default(10),
  BCRYPT_COST: int(4, 15).default(12),
  CORS_ORIGINS: csv.default(['http://localhost:3000', 'http://localhost:3100']),
  TRUST_PROXY: trustProxy.default(false),
  BODY_LIMIT: z.string().regex(/^\d+(b|kb|mb)$/i, 'use a size such as 100kb or 1mb').default('100kb'),
  RATE_LIMIT_WINDOW_MS: int(1000, 86_400_000).default(60_000),
  RATE_LIMIT_MAX: int(0, 1_000_000).default(600),
  AUTH_RATE_LIMIT_WINDOW_MS: int(1000, 86_400_000).default(15 * 60_000),
  AUTH_RATE_LIMIT_MAX: int(0, 1_000_000).default(30),
  AUTH_RATE_LIMIT_ACCOUNT_MAX: int(0, 1_000_000).default(10),
  AUTH_RATE_LIMIT_ACCOUNT_CEILING: int(0, 1_000_000).default(100),
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'a redis:// or rediss:// URL' }).optional(),
  REDIS_KEY_PREFIX: z.string().regex(/^[\w:.-]{1,64}$/, 'letters, digits and _ : . - (at most 64)').default('minispod:'),
  HEARTBEAT_GRACE_SECONDS: int(5, 86_400).default(90),
  SWEEPER_INTERVAL_SECONDS: int(0, 3600).default(15),
  WORKER_STATS_MAX_AGE_MS: int(0, 60_000).default(2000),
  JOBS_ENABLED: bool.default(true),
  JOBS_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case PostgreSQL schema name').default('pgboss'),
  JOBS_POLL_INTERVAL_SECONDS: z.coerce.number().min(0.5).max(60).default(2),
  BILLING_TIMEZONE: z.string().refine(validTimeZone, 'an IANA time zone such as Asia/Jakarta').default('Asia/Jakarta'),
  SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  MAIL_FROM: z.string().min(3).default('minispod <no-reply@minispod.local>'),
  PUBLIC_APP_URL: z.url({ protocol: /^https?$/ }).default('http://localhost:3100'),
  ENCRYPTION_KEY: z.string().optional(),
  WEBHOOK_ALLOW_HTTP: bool.default(false),
  WEBHOOK_ALLOW_IPS: csv.refine((list) => list.every(ipOrRange), 'comma-separated IP addresses or CIDR ranges, e.g. 127.0.0.1,10.1.0.0/16').default([]),
  BILLING_GRACE_DAYS: int(0, 60).default(3),
  BILLING_RETENTION_DAYS: int(1, 365).default(14),
  APPS_DOMAIN: z
    .string()
    .toLowerCase()
    .regex(/^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a DNS domain such as apps.example.com')
    .default('apps.localhost'),
  THREAD_POOL_NICE: int(0, 19).default(10),
  SHUTDOWN_GRACE_MS: int(0, 120_000).default(10_000),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'debug', 'silent']).optional(),
  LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
  LOG_DIR: z.string().default('logs'),
  LOG_FILES: bool.default(true),
  METRICS_TOKEN: z.string().min(16).optional(),
  CURRENCY: z.string().regex(/^[A-Z]{3}$/).default('IDR'),
  MIDTRANS_SERVER_KEY: z.string().trim().min(10).optional(),
  MIDTRANS_CLIENT_KEY: z.string().trim().min(10).optional(),
  MIDTRANS_ENVIRONMENT: z.enum(['sandbox', 'production']).default('sandbox'),
  MIDTRANS_SNAP_URL: z.url({ protocol: /^https?$/ }).optional(),
  MIDTRANS_API_URL: z.url({ protocol: /^https?$/ }).optional(),
  MIDTRANS_EXPIRY_MINUTES: int(5, 7 * 1440).default(60),
  K8S_MODE: z.enum(['kubeconfig', 'in-cluster', 'off', 'simulated']).optional(),
  INGRESS_CLASS_NAME: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'a Kubernetes object name such as nginx').default('nginx'),
  INGRESS_NAMESPACE: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a namespace name such as ingress-nginx').default('ingress-nginx'),
  STORAGE_CLASS_NAME: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'a StorageClass name').optional(),
  TLS_CLUSTER_ISSUER: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'a cert-manager ClusterIssuer name').optional(),
  SIMULATED_READY_DELAY_MS: int(0, 600_000).default(1500),
});

/** Midtrans' documented hosts: Snap creates payment pages, the v2 API reports and expires transactions. */
const MIDTRANS_URLS = {
  sandbox: { snap: 'https://app.sandbox.midtrans.com/snap/v1/transactions', api: 'https://api.sandbox.midtrans.com/v2' },
  production: { snap: 'https://app.midtrans.com/snap/v1/transactions', api: 'https://api.midtrans.com/v2' },
} as const;

export type Env = z.infer<typeof envSchema>;

export interface Config {
  env: Env['NODE_ENV'];
  host: string;
  port: number;
  databaseUrl?: string;
  databasePoolMax: number;
  databaseConnectTimeoutMs: number;
  dataDir: string;
  embeddedPgPort: number;
  seedOnFirstRun: boolean;
  /**
   * refreshReuseSeconds: how long a rotated refresh token may be presented again (two tabs, a
   * retried request) for working tokens of the same session; later, a replay revokes the session.
   */
  jwt: { secret: string; issuer: string; audience: string; accessTtlSeconds: number; refreshTtlSeconds: number; refreshReuseSeconds: number };
  bcryptCost: number;
  corsOrigins: string[];
  trustProxy: boolean | number | string[];
  bodyLimit: string;
  /**
   * authAccountMax: failed sign-ins per account and client address; authAccountCeiling: failed
   * sign-ins per account from all addresses together (NIST SP 800-63B: at most 100).
   */
  rateLimit: { windowMs: number; max: number; authWindowMs: number; authMax: number; authAccountMax: number; authAccountCeiling: number };
  /** Shared store of the rate limits; without a URL every process counts on its own. */
  redis: { url?: string; keyPrefix: string };
  heartbeatGraceSeconds: number;
  sweeperIntervalSeconds: number;
  /** How old GET /workers/stats may be (it reads every node); 0: computed for every request. */
  workerStatsMaxAgeMs: number;
  jobs: { enabled: boolean; schema: string; pollIntervalSeconds: number; timezone: string };
  mail: { smtpUrl?: string; from: string; publicAppUrl: string };
  /** Base64 of the 32-byte key that seals stored secrets (src/lib/crypto.ts). */
  encryptionKey: string;
  /**
   * allowHttp: http:// endpoints too; allowIps: addresses (or ranges) deliveries may reach although
   * they are private or loopback (a receiver in tests, a private deployment).
   */
  webhooks: { allowHttp: boolean; allowIps: string[] };
  billing: { graceDays: number; retentionDays: number; timezone: string };
  appsDomain: string;
  threadPoolNice: number;
  shutdownGraceMs: number;
  log: { level: 'error' | 'warn' | 'info' | 'http' | 'debug' | 'silent'; format: 'pretty' | 'json'; dir: string; files: boolean };
  metricsToken?: string;
  currency: string;
  /**
   * Online top-ups; without both keys they are off (503 PAYMENT_PROVIDER_DISABLED). The server key
   * is a secret: it only ever goes into the Authorization header of calls to Midtrans.
   */
  midtrans: { serverKey?: string; clientKey?: string; environment: 'sandbox' | 'production'; snapUrl: string; apiUrl: string; expiryMinutes: number };
  /**
   * The cluster instances run on. mode: kubeconfig (client-node's loading order), in-cluster, off
   * (instances wait as PENDING) or simulated (the Kubernetes API double on loopback; never in
   * production). The rest goes into every instance's manifests.
   */
  kubernetes: { mode: K8sMode; ingressClassName: string; ingressNamespace: string; storageClassName?: string; tlsIssuer?: string; simulatedReadyDelayMs: number };
}

export type K8sMode = 'kubeconfig' | 'in-cluster' | 'off' | 'simulated';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * In development and tests a missing JWT secret or encryption key is generated once and kept
 * under the data directory, so tokens and encrypted rows survive restarts without anyone
 * committing a secret. Test processes start together: a new file is created exclusively, and
 * every process then reads back what the file holds.
 */
function localSecret(dataDir: string, name: 'jwtSecret' | 'encryptionKey', make: () => string, valid: (value: string) => boolean): string {
  const file = path.join(dataDir, 'secrets.json');
  const read = (): Record<string, unknown> | undefined => {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  };
  const stored = read();
  const found = stored?.[name];
  if (typeof found === 'string' && valid(found)) return found;
  fs.mkdirSync(dataDir, { recursive: true });
  const text = JSON.stringify({ ...stored, [name]: make() }, null, 2) + '\n';
  if (stored) {
    // An older file without this key: rewritten whole, through a rename, so no reader sees half of it.
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text, { mode: 0o600 });
    fs.renameSync(tmp, file);
  } else {
    try {
      fs.writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
    } catch {
      // Another process created it first: its value wins.
    }
  }
  const value = read()?.[name];
  if (typeof value !== 'string') throw new Error(`Could not keep a generated ${name} in ${file}`);
  return value;
}

function secretProblems(nodeEnv: string | undefined, secret: string | undefined): string[] {
  if (nodeEnv === 'production') {
    if (!secret) return ['JWT_SECRET: required when NODE_ENV=production (at least 32 bytes, e.g. `openssl rand -base64 48`)'];
    if (Buffer.byteLength(secret) < 32) return ['JWT_SECRET: must be at least 32 bytes when NODE_ENV=production'];
  } else if (secret && Buffer.byteLength(secret) < 32) {
    return ['JWT_SECRET: must be at least 32 bytes (leave it unset in development to have one generated)'];
  }
  return [];
}

function midtransProblems(raw: Record<string, string | undefined>): string[] {
  if (!raw.MIDTRANS_SERVER_KEY !== !raw.MIDTRANS_CLIENT_KEY) return ['MIDTRANS_SERVER_KEY and MIDTRANS_CLIENT_KEY: set both (Midtrans dashboard, Settings > Access Keys) or neither'];
  if (raw.MIDTRANS_SERVER_KEY && (raw.CURRENCY ?? 'IDR') !== 'IDR') return ['CURRENCY: Midtrans charges in IDR; online top-ups need CURRENCY=IDR'];
  return [];
}

function k8sModeProblems(raw: Record<string, string | undefined>): string[] {
  return raw.K8S_MODE === 'simulated' && raw.NODE_ENV === 'production' ? ['K8S_MODE: simulated is for development and tests only; set kubeconfig, in-cluster or off when NODE_ENV=production'] : [];
}

/** A kubeconfig when one is found, else the simulated cluster in development and tests, else none. */
function defaultK8sMode(nodeEnv: Env['NODE_ENV'], source: NodeJS.ProcessEnv): K8sMode {
  if (findKubeconfig(source)) return 'kubeconfig';
  return nodeEnv === 'production' ? 'off' : 'simulated';
}

function encryptionKeyProblems(nodeEnv: string | undefined, key: string | undefined): string[] {
  const format = `base64 of ${ENCRYPTION_KEY_BYTES} random bytes, e.g. \`openssl rand -base64 ${ENCRYPTION_KEY_BYTES}\``;
  if (!key) return nodeEnv === 'production' ? [`ENCRYPTION_KEY: required when NODE_ENV=production (${format})`] : [];
  return decodeEncryptionKey(key) ? [] : [`ENCRYPTION_KEY: must be ${format}`];
}

/** Parses the whole environment once; every problem is reported together. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof Env, string>> = {}): Readonly<Config> {
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = overrides[key as keyof Env] ?? source[key];
    raw[key] = value === '' ? undefined : value;
  }
  const parsed = envSchema.safeParse(raw);
  // The secret is checked on the raw values, so that its problem is reported with any other.
  const problems = [...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)), ...secretProblems(raw.NODE_ENV, raw.JWT_SECRET), ...encryptionKeyProblems(raw.NODE_ENV, raw.ENCRYPTION_KEY), ...midtransProblems(raw), ...k8sModeProblems(raw)];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const env = parsed.data;
  let secret = env.JWT_SECRET;
  secret ??= localSecret(env.DATA_DIR, 'jwtSecret', () => randomBytes(48).toString('base64url'), (v) => v.length >= 32);
  const encryptionKey = env.ENCRYPTION_KEY ?? localSecret(env.DATA_DIR, 'encryptionKey', generateEncryptionKey, (v) => decodeEncryptionKey(v) !== undefined);

  const config: Config = {
    env: env.NODE_ENV,
    host: env.HOST,
    port: env.PORT,
    databaseUrl: env.DATABASE_URL,
    databasePoolMax: env.DATABASE_POOL_MAX,
    databaseConnectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
    dataDir: env.DATA_DIR,
    embeddedPgPort: env.EMBEDDED_PG_PORT,
    seedOnFirstRun: env.SEED_ON_FIRST_RUN,
    jwt: {
      secret,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
      accessTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
      refreshTtlSeconds: env.REFRESH_TOKEN_TTL_SECONDS,
      refreshReuseSeconds: env.REFRESH_TOKEN_REUSE_INTERVAL_SECONDS,
    },
    bcryptCost: env.BCRYPT_COST,
    corsOrigins: env.CORS_ORIGINS,
    trustProxy: env.TRUST_PROXY,
    bodyLimit: env.BODY_LIMIT,
    rateLimit: {
      windowMs: env.RATE_LIMIT_WINDOW_MS,
      max: env.RATE_LIMIT_MAX,
      authWindowMs: env.AUTH_RATE_LIMIT_WINDOW_MS,
      authMax: env.AUTH_RATE_LIMIT_MAX,
      authAccountMax: env.AUTH_RATE_LIMIT_ACCOUNT_MAX,
      authAccountCeiling: env.AUTH_RATE_LIMIT_ACCOUNT_CEILING,
    },
    redis: { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX },
    heartbeatGraceSeconds: env.HEARTBEAT_GRACE_SECONDS,
    sweeperIntervalSeconds: env.SWEEPER_INTERVAL_SECONDS,
    workerStatsMaxAgeMs: env.WORKER_STATS_MAX_AGE_MS,
    jobs: { enabled: env.JOBS_ENABLED, schema: env.JOBS_SCHEMA, pollIntervalSeconds: env.JOBS_POLL_INTERVAL_SECONDS, timezone: env.BILLING_TIMEZONE },
    billing: { graceDays: env.BILLING_GRACE_DAYS, retentionDays: env.BILLING_RETENTION_DAYS, timezone: env.BILLING_TIMEZONE },
    appsDomain: env.APPS_DOMAIN,
    mail: { smtpUrl: env.SMTP_URL, from: env.MAIL_FROM, publicAppUrl: env.PUBLIC_APP_URL.replace(/\/+$/, '') },
    encryptionKey,
    webhooks: { allowHttp: env.WEBHOOK_ALLOW_HTTP, allowIps: env.WEBHOOK_ALLOW_IPS },
    threadPoolNice: env.THREAD_POOL_NICE,
    shutdownGraceMs: env.SHUTDOWN_GRACE_MS,
    log: {
      level: env.LOG_LEVEL ?? (env.NODE_ENV === 'test' ? 'silent' : 'http'),
      format: env.LOG_FORMAT ?? (env.NODE_ENV === 'production' ? 'json' : 'pretty'),
      dir: env.LOG_DIR,
      files: env.LOG_FILES,
    },
    metricsToken: env.METRICS_TOKEN,
    currency: env.CURRENCY,
    midtrans: {
      serverKey: env.MIDTRANS_SERVER_KEY,
      clientKey: env.MIDTRANS_CLIENT_KEY,
      environment: env.MIDTRANS_ENVIRONMENT,
      snapUrl: env.MIDTRANS_SNAP_URL ?? MIDTRANS_URLS[env.MIDTRANS_ENVIRONMENT].snap,
      apiUrl: (env.MIDTRANS_API_URL ?? MIDTRANS_URLS[env.MIDTRANS_ENVIRONMENT].api).replace(/\/+$/, ''),
      expiryMinutes: env.MIDTRANS_EXPIRY_MINUTES,
    },
    kubernetes: {
      mode: env.K8S_MODE ?? defaultK8sMode(env.NODE_ENV, source),
      ingressClassName: env.INGRESS_CLASS_NAME,
      ingressNamespace: env.INGRESS_NAMESPACE,
      storageClassName: env.STORAGE_CLASS_NAME,
      tlsIssuer: env.TLS_CLUSTER_ISSUER,
      simulatedReadyDelayMs: env.SIMULATED_READY_DELAY_MS,
    },
  };
  return deepFreeze(config);
}

function deepFreeze<T extends object>(obj: T): Readonly<T> {
  for (const value of Object.values(obj)) if (value && typeof value === 'object') deepFreeze(value as object);
  return Object.freeze(obj);
}
