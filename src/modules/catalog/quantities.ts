/**
 * Resource sizes as Kubernetes quantities. Clients send either Kubernetes quantities ("500m", "512Mi",
 * "1G") or the human strings of the README ("1 vCPU", "1GB RAM", "10GB SSD"); both are stored in the
 * canonical form Kubernetes itself prints, so equal sizes are always equal strings.
 *
 * Rules:
 * - CPU: a plain number, or a number with a core word (core, cpu, vcpu, vcore), is cores; a trailing
 *   lower-case `m` (or millicore, mcpu) is millicores. Finer than 1m is refused, not rounded.
 * - Memory and storage: Kubernetes suffixes keep their meaning (Ki/Mi/Gi are powers of 1024, k/M/G
 *   powers of 1000). Human units with a B (KB, MB, GB, TB, and KiB...) are powers of 1024, because
 *   RAM and disks are sold that way ("1GB RAM" is 1Gi). A trailing word such as RAM or SSD is ignored.
 *   `m` on memory means thousandths of a byte in Kubernetes, a classic mistake, so it is refused.
 */

export type QuantityKind = 'cpu' | 'memory' | 'storage';

export type QuantityResult = { ok: true; quantity: string; amount: bigint } | { ok: false; message: string };

const MILLI_PER_CORE = 1000n;
const MAX_CPU_MILLI = 256n * MILLI_PER_CORE;
const Ki = 1024n;
const Mi = Ki * 1024n;
const Gi = Mi * 1024n;
const Ti = Gi * 1024n;
const Pi = Ti * 1024n;
const Ei = Pi * 1024n;

const BYTE_BOUNDS: Record<'memory' | 'storage', { min: bigint; max: bigint; maxText: string }> = {
  memory: { min: Mi, max: Ti, maxText: '1Ti' },
  storage: { min: Mi, max: 100n * Ti, maxText: '100Ti' },
};

const EXAMPLES: Record<QuantityKind, string> = {
  cpu: "cores ('1', '0.5', '1 vCPU') or millicores ('500m')",
  memory: "a Kubernetes quantity ('512Mi', '1Gi') or a size such as '1GB RAM'",
  storage: "a Kubernetes quantity ('10Gi') or a size such as '10GB SSD'",
};

const NUMBER = /^(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?\s*(.*)$/;
const CPU_UNITS: Record<string, bigint> = { '': MILLI_PER_CORE, m: 1n, millicore: 1n, millicores: 1n, mcpu: 1n };
const CORE_WORD = /^(v?cpus?|v?cores?)$/i;
const QUALIFIERS: Record<'memory' | 'storage', RegExp> = {
  memory: /\s+(ram|memory|mem)$/i,
  storage: /\s+(ssd|hdd|nvme|disk|storage|volume)$/i,
};

type Family = 'binary' | 'decimal';
const K8S_BYTE_UNITS: Record<string, { factor: bigint; family: Family }> = {
  '': { factor: 1n, family: 'decimal' },
  Ki: { factor: Ki, family: 'binary' },
  Mi: { factor: Mi, family: 'binary' },
  Gi: { factor: Gi, family: 'binary' },
  Ti: { factor: Ti, family: 'binary' },
  Pi: { factor: Pi, family: 'binary' },
  Ei: { factor: Ei, family: 'binary' },
  k: { factor: 10n ** 3n, family: 'decimal' },
  M: { factor: 10n ** 6n, family: 'decimal' },
  G: { factor: 10n ** 9n, family: 'decimal' },
  T: { factor: 10n ** 12n, family: 'decimal' },
  P: { factor: 10n ** 15n, family: 'decimal' },
  E: { factor: 10n ** 18n, family: 'decimal' },
};
// Case-insensitive human units; all binary (see the rules above).
const HUMAN_BYTE_UNITS: Record<string, bigint> = {
  b: 1n, byte: 1n, bytes: 1n,
  kb: Ki, kib: Ki, ki: Ki,
  mb: Mi, mib: Mi, mi: Mi,
  gb: Gi, gib: Gi, gi: Gi,
  tb: Ti, tib: Ti, ti: Ti,
  pb: Pi, pib: Pi, pi: Pi,
};
const CANONICAL: Record<Family, [string, bigint][]> = {
  binary: [['Ei', Ei], ['Pi', Pi], ['Ti', Ti], ['Gi', Gi], ['Mi', Mi], ['Ki', Ki]],
  decimal: [['E', 10n ** 18n], ['P', 10n ** 15n], ['T', 10n ** 12n], ['G', 10n ** 9n], ['M', 10n ** 6n], ['k', 10n ** 3n]],
};

interface Decimal {
  num: bigint;
  den: bigint;
  unit: string;
}

/** Splits "1.5e3 Gi" into an exact fraction and its unit; floats would turn 0.1Gi into a wrong byte count. */
function splitNumber(text: string): Decimal | null {
  const m = NUMBER.exec(text);
  if (!m) return null;
  const [, mantissa = '', exponent, unit = ''] = m;
  const [whole = '', fraction = ''] = mantissa.split('.');
  if (fraction.length > 18 || (whole + fraction).length > 30) return null;
  let num = BigInt((whole || '0') + fraction);
  let den = 10n ** BigInt(fraction.length);
  const exp = exponent === undefined ? 0 : Number(exponent);
  if (Math.abs(exp) > 30) return null;
  if (exp >= 0) num *= 10n ** BigInt(exp);
  else den *= 10n ** BigInt(-exp);
  return { num, den, unit: unit.trim() };
}

const fail = (message: string): QuantityResult => ({ ok: false, message });
const unreadable = (kind: QuantityKind, input: string) => fail(`Cannot read '${input}' as a ${kind === 'cpu' ? 'CPU' : kind} quantity; use ${EXAMPLES[kind]}`);

export function parseCpu(input: string | number): QuantityResult {
  const text = String(input).trim();
  const d = splitNumber(text);
  if (!d) return unreadable('cpu', text);
  const factor = CORE_WORD.test(d.unit) ? MILLI_PER_CORE : CPU_UNITS[d.unit];
  if (factor === undefined) return unreadable('cpu', text);
  const scaled = d.num * factor;
  if (scaled % d.den !== 0n) return fail(`'${text}' is finer than one millicore (1m), the smallest CPU unit`);
  const milli = scaled / d.den;
  if (milli <= 0n) return fail('A CPU quantity must be greater than zero');
  if (milli > MAX_CPU_MILLI) return fail(`A CPU quantity may be at most ${MAX_CPU_MILLI / MILLI_PER_CORE} cores`);
  const quantity = milli % MILLI_PER_CORE === 0n ? `${milli / MILLI_PER_CORE}` : `${milli}m`;
  return { ok: true, quantity, amount: milli };
}

/** Memory or storage; `amount` is bytes. Plain numbers are bytes, as in Kubernetes. */
export function parseBytes(kind: 'memory' | 'storage', input: string | number): QuantityResult {
  const text = String(input).trim();
  const d = splitNumber(text.replace(QUALIFIERS[kind], ''));
  if (!d) return unreadable(kind, text);
  if (d.unit === 'm') return fail(`'${text}': in Kubernetes 'm' means thousandths of a byte; use 'Mi' (or 'MB') for megabytes`);
  const unit = byteUnit(d.unit);
  if (!unit) return unreadable(kind, text);
  const scaled = d.num * unit.factor;
  if (scaled % d.den !== 0n) return fail(`'${text}' is not a whole number of bytes`);
  const bytes = scaled / d.den;
  const bounds = BYTE_BOUNDS[kind];
  if (bytes < bounds.min) return fail(`A ${kind} quantity must be at least 1Mi (a plain number is bytes)`);
  if (bytes > bounds.max) return fail(`A ${kind} quantity may be at most ${bounds.maxText}`);
  return { ok: true, quantity: formatBytes(bytes, unit.family), amount: bytes };
}

function byteUnit(unit: string): { factor: bigint; family: Family } | undefined {
  const k8s = K8S_BYTE_UNITS[unit];
  if (k8s) return k8s;
  const human = HUMAN_BYTE_UNITS[unit.toLowerCase()];
  return human === undefined ? undefined : { factor: human, family: 'binary' };
}

function formatBytes(bytes: bigint, family: Family): string {
  for (const [suffix, factor] of CANONICAL[family]) if (bytes % factor === 0n) return `${bytes / factor}${suffix}`;
  return `${bytes}`;
}

export function parseQuantity(kind: QuantityKind, input: string | number): QuantityResult {
  return kind === 'cpu' ? parseCpu(input) : parseBytes(kind, input);
}

/** Amount of a stored (already canonical) quantity: millicores for CPU, bytes otherwise. */
export function quantityAmount(kind: QuantityKind, quantity: string): bigint {
  const r = parseQuantity(kind, quantity);
  if (!r.ok) throw new Error(`Stored ${kind} quantity '${quantity}' is invalid: ${r.message}`);
  return r.amount;
}
