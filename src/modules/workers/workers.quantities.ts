import { z } from '../../lib/zod.js';

/**
 * Node sizes. Memory and storage are stored as whole MB, where MB is 2^20 bytes: the README's
 * `totalMemory: 32768` is a 32 GiB machine. Clients send an integer number of MB or a Kubernetes
 * quantity: binary suffixes Ki..Ei are powers of 1024, decimal k, M, G, T, P, E powers of 1000.
 * A quantity converts to the whole MB it contains (rounded down), so "32Gi" is 32768 and "500G"
 * (500 * 10^9 bytes = 476837.16 MB) is 476837: a node never looks larger than it is, and a usage
 * report equal to the capacity in the same unit always fits. A bare number in a string is refused,
 * because Kubernetes reads it as bytes and people mean MB.
 */

const BYTE_SUFFIX: Record<string, bigint> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
  k: 10n ** 3n,
  M: 10n ** 6n,
  G: 10n ** 9n,
  T: 10n ** 12n,
  P: 10n ** 15n,
  E: 10n ** 18n,
};
const MB = 1n << 20n;
/** 1 EiB in MB: far above any machine, far below BigInt column limits. */
export const MAX_MB = 1n << 40n;
const QUANTITY = /^(\d{1,15})(?:\.(\d{1,9}))?([A-Za-z]{1,2})$/;

/** Whole MB in a quantity such as "32Gi" or "500G", or undefined when it is not one. */
export function quantityToMb(text: string): bigint | undefined {
  const match = QUANTITY.exec(text.trim());
  if (!match) return undefined;
  const [, whole = '0', fraction = '', suffix = ''] = match;
  const factor = BYTE_SUFFIX[suffix];
  if (factor === undefined) return undefined;
  const scale = 10n ** BigInt(fraction.length);
  const bytesTimesScale = (BigInt(whole) * scale + BigInt(fraction || '0')) * factor;
  return bytesTimesScale / scale / MB;
}

const sizeMessage = 'must be a whole number of MB (e.g. 32768) or a Kubernetes quantity (e.g. "32Gi", "500G")';

/** Memory or storage size in MB: an integer, or a quantity string. Output is a bigint. */
export const megabytes = z
  .union([z.number().int(sizeMessage), z.string().max(32)])
  .transform((value, ctx) => {
    const mb = typeof value === 'number' ? BigInt(value) : quantityToMb(value);
    if (mb === undefined) {
      ctx.addIssue({ code: 'custom', message: sizeMessage });
      return z.NEVER;
    }
    if (mb < 0n || mb > MAX_MB) {
      ctx.addIssue({ code: 'custom', message: `must be between 0 and ${MAX_MB} MB` });
      return z.NEVER;
    }
    return mb;
  })
  .openapi({ description: 'Whole MB (2^20 bytes), or a Kubernetes quantity such as "32Gi" or "500G"', example: '32Gi' });

const CPU = /^(?:(\d{1,9})m|(\d{1,6}(?:\.\d{1,3})?))$/;
const cpuMessage = 'must be a number of cores (e.g. 4.5) or a Kubernetes CPU quantity (e.g. "4500m")';
export const MAX_CORES = 100_000;

/** CPU in cores: a number, or a quantity such as "4500m" or "2.5". Kept to millicore precision. */
export const cores = z
  .union([z.number(), z.string().max(16)])
  .transform((value, ctx) => {
    let n: number | undefined;
    if (typeof value === 'number') n = value;
    else {
      const match = CPU.exec(value.trim());
      if (match) n = match[1] !== undefined ? Number(match[1]) / 1000 : Number(match[2]);
    }
    if (n === undefined || !Number.isFinite(n)) {
      ctx.addIssue({ code: 'custom', message: cpuMessage });
      return z.NEVER;
    }
    if (n < 0 || n > MAX_CORES) {
      ctx.addIssue({ code: 'custom', message: `must be between 0 and ${MAX_CORES} cores` });
      return z.NEVER;
    }
    return Math.round(n * 1000) / 1000;
  })
  .openapi({ description: 'Cores, or a Kubernetes CPU quantity such as "4500m"', example: 4.5 });
