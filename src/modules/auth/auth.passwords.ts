import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import pLimit from 'p-limit';
import { z } from '../../lib/zod.js';

/** bcrypt reads at most 72 bytes and silently ignores the rest, so longer passwords are refused, never truncated. */
export const PASSWORD_MAX_BYTES = 72;
export const PASSWORD_MIN_BYTES = 8;

const byteLength = (s: string) => Buffer.byteLength(s, 'utf8');

/** The password policy: 8 to 72 bytes, with a lower-case letter, an upper-case letter, a digit and one other character. */
export const passwordSchema = z
  .string()
  .superRefine((value, ctx) => {
    const bytes = byteLength(value);
    if (bytes < PASSWORD_MIN_BYTES) ctx.addIssue({ code: 'custom', message: `Password must be at least ${PASSWORD_MIN_BYTES} bytes long` });
    if (bytes > PASSWORD_MAX_BYTES) ctx.addIssue({ code: 'custom', message: `Password must be at most ${PASSWORD_MAX_BYTES} bytes long (UTF-8)` });
    const missing = [
      [/\p{Ll}/u, 'a lower-case letter'],
      [/\p{Lu}/u, 'an upper-case letter'],
      [/\p{Nd}/u, 'a digit'],
      [/[^\p{L}\p{N}]/u, 'a character that is neither a letter nor a digit'],
    ]
      .filter(([re]) => !(re as RegExp).test(value))
      .map(([, what]) => what as string);
    if (missing.length > 0) ctx.addIssue({ code: 'custom', message: `Password must contain ${missing.join(', ')}` });
  })
  .openapi({ format: 'password', minLength: PASSWORD_MIN_BYTES, maxLength: PASSWORD_MAX_BYTES, example: 'SecurePass123!' });

// bcrypt runs on libuv's thread pool, which everything else asynchronous in the process shares:
// above all the PBKDF2 of PostgreSQL's SCRAM handshake, without which no new database connection
// opens. A login storm that filled the pool would make every new connection wait behind a queue of
// hashes and time out. One thread is kept free; the others still keep both cores busy.
const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
const hashing = pLimit(Math.max(1, poolSize - 1));

export const hashPassword = (plain: string, cost: number) => hashing(() => bcrypt.hash(plain, cost));

/** Compares in constant time per cost; a password bcrypt would truncate can never match. */
export async function verifyPassword(plain: string, hash: string): Promise<boolean> {
  const matches = await hashing(() => bcrypt.compare(plain, hash));
  return matches && byteLength(plain) <= PASSWORD_MAX_BYTES;
}

export const needsRehash = (hash: string, cost: number) => bcrypt.getRounds(hash) !== cost;

/**
 * A hash of a random password at the configured cost. Login compares against it when the email is
 * unknown, so unknown emails and wrong passwords take the same time. It is computed at once, so
 * that not even the first unknown email pays for hashing.
 */
export function dummyHash(cost: number): () => Promise<string> {
  const hash = hashPassword(randomBytes(18).toString('base64'), cost);
  hash.catch(() => undefined); // a failure surfaces on first use, never as an unhandled rejection
  return () => hash;
}
