import { createHmac, hkdfSync } from 'node:crypto';
import type { Config } from '../../lib/config.js';
import type { DbClient } from '../../lib/db.js';
import { fieldError } from '../../lib/errors/index.js';
import type { AccountTokenPurpose } from '../../generated/prisma/enums.js';
import { hashToken } from './auth.sessions.js';

export const TOKEN_TTL_MS: Record<AccountTokenPurpose, number> = {
  VERIFY_EMAIL: 48 * 3600_000,
  RESET_PASSWORD: 30 * 60_000,
};

const keys = new WeakMap<object, Buffer>();

/** A key of its own for account tokens, derived from the JWT secret (HKDF), so the secret itself signs nothing else. */
function tokenKey(jwt: Config['jwt']): Buffer {
  let key = keys.get(jwt);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', jwt.secret, 'minispod', 'account-tokens', 32));
    keys.set(jwt, key);
  }
  return key;
}

/**
 * The token an email carries for the event that asked for it. It is derived, not stored: a
 * retried send renders the same link, and the database holds only its SHA-256.
 */
export const accountTokenFor = (config: Pick<Config, 'jwt'>, eventId: string) => createHmac('sha256', tokenKey(config.jwt)).update(`account-token:${eventId}`).digest('base64url');

/**
 * Records the token of `eventId` (once: the event id is unique) and returns it. Called while an
 * email is prepared, both when the dispatcher writes the message and when a job sends it.
 */
export async function issueAccountToken(
  tx: DbClient,
  config: Pick<Config, 'jwt'>,
  input: { eventId: string; userId: string; email: string; purpose: AccountTokenPurpose; issuedAt: Date },
): Promise<{ token: string; expiresAt: Date }> {
  const token = accountTokenFor(config, input.eventId);
  const expiresAt = new Date(input.issuedAt.getTime() + TOKEN_TTL_MS[input.purpose]);
  await tx.accountToken.createMany({
    data: [{ eventId: input.eventId, userId: input.userId, email: input.email, purpose: input.purpose, tokenHash: hashToken(token), expiresAt, createdAt: input.issuedAt }],
    skipDuplicates: true,
  });
  return { token, expiresAt };
}

const invalid = () => fieldError('token', 'This link is invalid, has expired or was already used');

/**
 * Uses a token once: one conditional UPDATE claims it, so of two concurrent uses exactly one
 * wins. Call inside the transaction that applies its effect, so a failure gives the token back.
 */
export async function consumeAccountToken(tx: DbClient, token: string, purpose: AccountTokenPurpose, now: Date): Promise<{ userId: string; email: string }> {
  const tokenHash = hashToken(token);
  const claimed = await tx.accountToken.updateMany({ where: { tokenHash, purpose, usedAt: null, expiresAt: { gt: now } }, data: { usedAt: now } });
  if (claimed.count !== 1) throw invalid();
  return tx.accountToken.findUniqueOrThrow({ where: { tokenHash }, select: { userId: true, email: true } });
}

export { invalid as invalidAccountToken };
