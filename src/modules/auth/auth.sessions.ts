import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Config } from '../../lib/config.js';
import type { Db, DbClient, Prisma } from '../../lib/db.js';
import { AppError, invalidToken } from '../../lib/errors/index.js';
import { signAccessToken } from '../../lib/jwt.js';
import type { Logger } from '../../lib/logger.js';
import type { Sql } from '../../lib/sql.js';
import { USER_VIEW_COLUMNS, type UserRow } from './auth.accounts.js';

/** Where a session was opened from; stored for the user's and the administrator's information only. */
export interface ClientMeta {
  userAgent?: string;
  ipAddress?: string;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  expiresIn: number;
  /** Seconds until the refresh token expires. */
  refreshExpiresIn: number;
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** A new refresh token: returned once, stored only as its hash, under an id of its own. */
function newRefreshToken(config: Pick<Config, 'jwt'>) {
  const refreshToken = randomBytes(32).toString('base64url');
  return { id: randomUUID(), refreshToken, tokenHash: hashToken(refreshToken), expiresAt: new Date(Date.now() + config.jwt.refreshTtlSeconds * 1000) };
}

function tokenPair(config: Pick<Config, 'jwt'>, userId: string, refreshToken: string, tokenVersion: number): TokenPair {
  const { accessToken, expiresIn } = signAccessToken(config.jwt, userId, tokenVersion);
  return { accessToken, refreshToken, tokenType: 'Bearer', expiresIn, refreshExpiresIn: config.jwt.refreshTtlSeconds };
}

/**
 * A pair of the same form as a session's that belongs to none: the access token names a user id
 * that does not exist and the refresh token is stored nowhere. What registration answers for a
 * taken email (see register).
 */
export const unboundTokens = (config: Pick<Config, 'jwt'>, userId: string): TokenPair => tokenPair(config, userId, newRefreshToken(config).refreshToken, 0);

const clip = (meta: ClientMeta) => ({ userAgent: meta.userAgent?.slice(0, 512), ipAddress: meta.ipAddress?.slice(0, 64) });

/**
 * Opens a session (or continues `familyId`): a fresh opaque refresh token, stored only as its hash,
 * and an access token signed at the user's `tokenVersion`. Refresh tokens are not JWTs, so one can
 * never pass as an access token.
 */
export async function issueTokens(
  db: DbClient,
  config: Pick<Config, 'jwt'>,
  { id: userId, tokenVersion }: { id: string; tokenVersion: number },
  meta: ClientMeta,
  familyId: string = randomUUID(),
): Promise<TokenPair> {
  const { id, refreshToken, tokenHash, expiresAt } = newRefreshToken(config);
  // Housekeeping on the user's own rows keeps the table bounded without a separate job.
  await db.refreshToken.deleteMany({ where: { userId, expiresAt: { lt: new Date() } } });
  await db.refreshToken.create({ data: { id, tokenHash, familyId, userId, expiresAt, ...clip(meta) } });
  return tokenPair(config, userId, refreshToken, tokenVersion);
}

// Timestamps are `timestamp(3)` holding UTC wall time: a timestamptz parameter is read as such.
const SIGN_IN_SQL = `
  WITH signed_in AS (
    UPDATE users SET "lastLoginAt" = $2::timestamptz AT TIME ZONE 'UTC', password = coalesce($3::text, password),
      "updatedAt" = CASE WHEN $3::text IS NULL THEN "updatedAt" ELSE $2::timestamptz AT TIME ZONE 'UTC' END
    WHERE id = $1::text AND "isActive" AND ($10::text IS NULL OR password = $10::text)
    RETURNING ${USER_VIEW_COLUMNS}, "tokenVersion"
  ), expired AS (
    DELETE FROM refresh_tokens WHERE "userId" = $1::text AND "expiresAt" < $2::timestamptz AT TIME ZONE 'UTC' AND EXISTS (SELECT 1 FROM signed_in)
  ), opened AS (
    INSERT INTO refresh_tokens (id, "tokenHash", "familyId", "userId", "expiresAt", "createdAt", "userAgent", "ipAddress")
    SELECT $4::text, $5::text, $6::text, id, $7::timestamptz AT TIME ZONE 'UTC', $2::timestamptz AT TIME ZONE 'UTC', $8::text, $9::text FROM signed_in
  )
  SELECT * FROM signed_in`;

/**
 * A login's writes in one statement, so in one round trip and one transaction: the user's
 * `lastLoginAt` (and a new hash when the cost changed), the user's expired refresh tokens
 * removed, and a new session opened, as issueTokens does. Nothing is written unless the user is
 * still there and active, and still has `checkedHash` (the hash the password was checked against:
 * a password changed meanwhile must not let the old one in); undefined then.
 *
 * A login is not an edit of the account: `updatedAt` moves only with a new hash. It is indexed,
 * and an UPDATE that changes an indexed column cannot be HOT: every login would insert into each
 * index of users, the trigram indexes' pending lists would grow until a vacuum, and searches
 * would fall back to reading the whole table (16 ms instead of 0.4 ms after some 1,700 logins).
 */
export async function signIn(
  sql: Sql,
  config: Pick<Config, 'jwt'>,
  userId: string,
  meta: ClientMeta,
  { rehash, checkedHash }: { rehash?: string; checkedHash?: string } = {},
): Promise<{ user: UserRow; tokens: TokenPair } | undefined> {
  const { id, refreshToken, tokenHash, expiresAt } = newRefreshToken(config);
  const { userAgent, ipAddress } = clip(meta);
  const now = new Date().toISOString();
  const values = [userId, now, rehash ?? null, id, tokenHash, randomUUID(), expiresAt.toISOString(), userAgent ?? null, ipAddress ?? null, checkedHash ?? null];
  const [user] = await sql<UserRow & { tokenVersion: number }>(SIGN_IN_SQL, values);
  return user && { user, tokens: tokenPair(config, userId, refreshToken, user.tokenVersion) };
}

/**
 * Part of every update that ends a user's sessions (a new password, a deactivation): the new
 * token version ends the access tokens signed before (authenticate compares), as
 * revokeUserSessions ends the refresh tokens. Reactivating later does not bring them back.
 */
export const ENDS_ACCESS_TOKENS = { tokenVersion: { increment: 1 } } as const;

const revokeWhere = async (db: DbClient, where: Prisma.RefreshTokenWhereInput) =>
  (await db.refreshToken.updateMany({ where: { ...where, revokedAt: null }, data: { revokedAt: new Date() } })).count;

export const revokeFamily = (db: DbClient, familyId: string) => revokeWhere(db, { familyId });

/** Ends every session of the given users (password change or reset, deactivation). */
export const revokeUserSessions = (db: DbClient, userIds: string | readonly string[]) =>
  revokeWhere(db, { userId: { in: typeof userIds === 'string' ? [userIds] : [...userIds] } });

/** A rotated token presented again this soon (two tabs, a retry after a timeout) is not a theft. */
const reusable = (row: { usedAt: Date | null; revokedAt: Date | null; expiresAt: Date }, now: Date, config: Pick<Config, 'jwt'>) =>
  row.usedAt !== null && row.revokedAt === null && row.expiresAt > now && now.getTime() - row.usedAt.getTime() < config.jwt.refreshReuseSeconds * 1000;

/**
 * Rotates a refresh token. The token is claimed by one conditional UPDATE, so of several concurrent
 * refreshes exactly one rotates it; the others, like any presentation of it within the reuse
 * interval, get tokens of the same session too (the reuse interval of the big identity providers).
 * A token presented again after that, or a revoked one, means it leaked: its whole family is
 * revoked (RFC 9700, 4.14), including the token the legitimate holder got last.
 */
export async function rotateRefreshToken(db: Db, config: Pick<Config, 'jwt'>, logger: Logger, token: string, meta: ClientMeta): Promise<TokenPair> {
  const tokenHash = hashToken(token);
  const owner = await db.refreshToken.findUnique({ where: { tokenHash }, select: { userId: true } });
  if (!owner) throw invalidToken('Invalid refresh token');
  const now = new Date();
  const outcome = await db.$transaction(async (tx) => {
    // The user's row before the token, the order of everything that writes both (password change,
    // deactivation, delete, login): no deadlock with them, and a revocation that commits first is
    // seen here, while one that comes later waits for this session and revokes it too.
    const [user] = await tx.$queryRaw<{ isActive: boolean; tokenVersion: number }[]>`SELECT "isActive", "tokenVersion" FROM users WHERE id = ${owner.userId} FOR SHARE`;
    const claimed = await tx.refreshToken.updateMany({ where: { tokenHash, usedAt: null, revokedAt: null, expiresAt: { gt: now } }, data: { usedAt: now } });
    const row = await tx.refreshToken.findUnique({ where: { tokenHash }, select: { familyId: true, usedAt: true, revokedAt: true, expiresAt: true } });
    if (!user || !row) throw invalidToken('Invalid refresh token');
    if (claimed.count === 0 && !reusable(row, now, config)) return { refused: row };
    // Throwing rolls the claim back; deactivation revokes the tokens anyway.
    if (!user.isActive) throw new AppError('ACCOUNT_DISABLED', 'This account is deactivated');
    return { tokens: await issueTokens(tx, config, { id: owner.userId, tokenVersion: user.tokenVersion }, meta, row.familyId) };
  });
  if (outcome.tokens) return outcome.tokens;

  const row = outcome.refused;
  if (row.usedAt || row.revokedAt) {
    const revoked = await revokeFamily(db, row.familyId);
    if (row.usedAt) logger.warn('Refresh token reuse detected; session family revoked', { userId: owner.userId, familyId: row.familyId, revoked });
    throw invalidToken('Refresh token has already been used or revoked');
  }
  throw new AppError('TOKEN_EXPIRED', 'Refresh token has expired');
}

/** Deletes the refresh tokens that expired before `now`, of every user; returns how many. */
export const deleteExpiredTokens = async (db: DbClient, now: Date) => (await db.refreshToken.deleteMany({ where: { expiresAt: { lt: now } } })).count;

/** Logout: revokes the family of a refresh token, whatever state the token is in. */
export async function revokeByToken(db: DbClient, token: string): Promise<void> {
  const row = await db.refreshToken.findUnique({ where: { tokenHash: hashToken(token) }, select: { familyId: true } });
  if (!row) throw invalidToken('Invalid refresh token');
  await revokeFamily(db, row.familyId);
}
