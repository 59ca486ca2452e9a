import { createSecretKey, randomUUID, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Config } from './config.js';
import { AppError } from './errors/index.js';

export type JwtConfig = Config['jwt'];
export const ACCESS_TOKEN_TYPE = 'access';

export interface AccessToken {
  accessToken: string;
  expiresIn: number;
}

// jsonwebtoken turns a string secret into a key on every call, first by trying to parse it as a
// PEM public or private key and catching the failure: about a tenth of the CPU of an
// authenticated request. The key object is made once per secret instead.
const keys = new Map<string, KeyObject>();
function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(secret));
    keys.set(secret, key);
  }
  return key;
}

/** The claims an access token is accepted for: whose it is, and the user's token version it was signed at. */
export interface AccessClaims {
  sub: string;
  ver: number;
}

/** `version`: the user's tokenVersion now; raising it later ends this token (see authenticate). */
export function signAccessToken(cfg: JwtConfig, userId: string, version = 0): AccessToken {
  const accessToken = jwt.sign({ typ: ACCESS_TOKEN_TYPE, ver: version }, keyOf(cfg.secret), {
    algorithm: 'HS256',
    subject: userId,
    issuer: cfg.issuer,
    audience: cfg.audience,
    expiresIn: cfg.accessTtlSeconds,
    jwtid: randomUUID(),
  });
  return { accessToken, expiresIn: cfg.accessTtlSeconds };
}

/**
 * Verifies an access token: HS256 only (so `alg: none` and key-confusion tokens fail), issuer,
 * audience, a present `exp` and the access type claim. Returns the user id, the token version
 * (0 for tokens signed before versions existed) and the expiry (seconds since the epoch).
 */
function checkAccessToken(cfg: JwtConfig, token: string): AccessClaims & { exp: number } {
  const payload = jwt.verify(token, keyOf(cfg.secret), { algorithms: ['HS256'], issuer: cfg.issuer, audience: cfg.audience });
  if (typeof payload !== 'object' || payload === null) throw new AppError('INVALID_TOKEN', 'Invalid token');
  if (typeof payload.exp !== 'number') throw new AppError('INVALID_TOKEN', 'Token has no expiry');
  if (payload.typ !== ACCESS_TOKEN_TYPE) throw new AppError('INVALID_TOKEN', 'Not an access token');
  if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw new AppError('INVALID_TOKEN', 'Token has no subject');
  const ver: unknown = payload.ver === undefined ? 0 : payload.ver;
  if (typeof ver !== 'number' || !Number.isSafeInteger(ver) || ver < 0) throw new AppError('INVALID_TOKEN', 'Invalid token version');
  return { sub: payload.sub, ver, exp: payload.exp };
}

/**
 * checkAccessToken with a memory of the tokens it has accepted: a client sends the same access
 * token with every request until it expires, and checking its signature and claims again each
 * time was about 4% of the CPU of an authenticated read. Only a token that passed every check is
 * remembered, keyed by its whole text (signature included), with its subject and expiry; one past
 * its expiry is forgotten and checked in full again, so it fails as expired. Nothing else about the
 * token itself can change before it expires: revocation (deactivation, a new password) is decided
 * on the user's row, which every request reads, against the remembered claims. At most
 * `maxEntries` tokens are kept, the oldest dropped first.
 */
export function createAccessTokenVerifier(cfg: JwtConfig, { maxEntries = 1000 }: { maxEntries?: number } = {}): (token: string) => Readonly<AccessClaims> {
  const accepted = new Map<string, Readonly<AccessClaims & { exp: number }>>();
  return (token) => {
    const known = accepted.get(token);
    if (known && Math.floor(Date.now() / 1000) < known.exp) return known;
    if (known) accepted.delete(token);
    const checked = Object.freeze(checkAccessToken(cfg, token));
    if (accepted.size >= maxEntries) accepted.delete(accepted.keys().next().value as string);
    accepted.set(token, checked);
    return checked;
  };
}

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
