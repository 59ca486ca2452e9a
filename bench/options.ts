/**
 * Bench settings: `npm run bench -- --duration=5 --only=heartbeat,health` or BENCH_DURATION=5 etc.
 * Defaults keep the whole run (seeding, every scenario and the ceiling alongside it) near five minutes on two cores.
 */
export interface BenchOptions {
  /** Seconds measured per scenario (and as many of the ceiling, in the same slices). */
  duration: number;
  /** Slices the measurement of a throughput scenario is cut into, each after a slice of the ceiling. */
  rounds: number;
  /** Seconds of unrecorded load before each measurement (JIT, pool connections, caches of the OS). */
  warmup: number;
  /** Concurrent HTTP connections of the load generator, the same for every throughput scenario. */
  connections: number;
  /** Concurrent logins: enough to keep every libuv thread of the API busy with bcrypt. */
  loginConnections: number;
  /** Requests per second of the /health probe that runs during the login storm. */
  probeRate: number;
  nodes: number;
  users: number;
  services: number;
  /** Nodes whose plaintext agent token the load generator keeps. */
  agentTokens: number;
  bcryptCost: number;
  /** Pool size handed to the API (DATABASE_POOL_MAX); unset keeps the API's own default. */
  poolMax?: number;
  /** Scenario names to run; empty runs all. */
  only: string[];
}

const DEFAULTS: BenchOptions = {
  duration: 8,
  rounds: 4,
  warmup: 2,
  connections: 50,
  loginConnections: 16,
  probeRate: 100,
  nodes: 20_000,
  users: 10_000,
  services: 50,
  agentTokens: 4_000,
  bcryptCost: 12,
  only: [],
};

const KEYS: Record<string, keyof BenchOptions> = {
  duration: 'duration',
  rounds: 'rounds',
  warmup: 'warmup',
  connections: 'connections',
  'login-connections': 'loginConnections',
  'probe-rate': 'probeRate',
  nodes: 'nodes',
  users: 'users',
  services: 'services',
  'agent-tokens': 'agentTokens',
  'bcrypt-cost': 'bcryptCost',
  'pool-max': 'poolMax',
  only: 'only',
};

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const raw = new Map<string, string>();
  for (const [flag, key] of Object.entries(KEYS)) {
    const fromEnv = env[`BENCH_${flag.toUpperCase().replace(/-/g, '_')}`];
    if (fromEnv) raw.set(key, fromEnv);
  }
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    const key = m?.[1] ? KEYS[m[1]] : undefined;
    if (!m || !key) throw new Error(`Unknown argument ${arg}: use --${Object.keys(KEYS).join('=…, --')}=…`);
    raw.set(key, m[2] ?? '');
  }
  const options: BenchOptions = { ...DEFAULTS };
  for (const [key, value] of raw) {
    if (key === 'only') options.only = value.split(',').map((s) => s.trim()).filter(Boolean);
    else {
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`--${key} must be a positive number, got "${value}"`);
      (options as unknown as Record<string, number>)[key] = n;
    }
  }
  if (options.agentTokens > options.nodes) options.agentTokens = options.nodes;
  options.rounds = Math.max(1, Math.round(options.rounds));
  return options;
}
