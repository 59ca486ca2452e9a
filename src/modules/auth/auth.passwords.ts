import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
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

export const hashPassword = (plain: string, cost: number) => bcrypt.hash(plain, cost);

/** Compares in constant time per cost; a password bcrypt would truncate can never match. */
export async function verifyPassword(plain: string, hash: string): Promise<boolean> {
  const matches = await bcrypt.compare(plain, hash);
  return matches && byteLength(plain) <= PASSWORD_MAX_BYTES;
}

export const needsRehash = (hash: string, cost: number) => bcrypt.getRounds(hash) !== cost;

/**
 * A hash of a random password at the configured cost. Login compares against it when the email is
 * unknown, so unknown emails and wrong passwords take the same time. It is computed at once, so
 * that not even the first unknown email pays for hashing.
 */
export function dummyHash(cost: number): () => Promise<string> {
  const hash = bcrypt.hash(randomBytes(18).toString('base64'), cost);
  hash.catch(() => undefined); // a failure surfaces on first use, never as an unhandled rejection
  return () => hash;
}
