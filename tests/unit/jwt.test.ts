import jwt from 'jsonwebtoken';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAccessTokenVerifier, signAccessToken, type JwtConfig } from '../../src/lib/jwt.js';

const cfg: JwtConfig = { secret: 'unit-test-secret-that-is-long-enough-0123456789', issuer: 'minispod', audience: 'minispod-api', accessTtlSeconds: 60, refreshTtlSeconds: 600, refreshReuseSeconds: 10 };

/** The error code a verification throws (TokenExpiredError and the like, or an AppError). */
function failure(verify: (token: string) => unknown, token: string): string {
  try {
    verify(token);
  } catch (err) {
    return (err as { code?: string; name: string }).code ?? (err as Error).name;
  }
  throw new Error('the token was accepted');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('createAccessTokenVerifier', () => {
  it('accepts a valid token, again and again, with its subject', () => {
    const verify = createAccessTokenVerifier(cfg);
    const { accessToken } = signAccessToken(cfg, 'user-1');
    expect(verify(accessToken)).toEqual({ sub: 'user-1', ver: 0, exp: expect.any(Number) });
    expect(verify(accessToken).sub).toBe('user-1');
  });

  it('returns the token version the token was signed at, and rejects a malformed one', () => {
    const verify = createAccessTokenVerifier(cfg);
    expect(verify(signAccessToken(cfg, 'user-1', 3).accessToken)).toMatchObject({ sub: 'user-1', ver: 3 });
    // Tokens signed before versions existed carry none: version 0.
    const unversioned = jwt.sign({ typ: 'access' }, cfg.secret, { algorithm: 'HS256', subject: 'user-1', issuer: cfg.issuer, audience: cfg.audience, expiresIn: 60 });
    expect(verify(unversioned).ver).toBe(0);
    for (const ver of [-1, 1.5, '2', null]) {
      const token = jwt.sign({ typ: 'access', ver }, cfg.secret, { algorithm: 'HS256', subject: 'user-1', issuer: cfg.issuer, audience: cfg.audience, expiresIn: 60 });
      expect(failure(verify, token)).toBe('INVALID_TOKEN');
    }
  });

  it('rejects a token it accepted once it has expired', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-01T10:00:00Z'));
    const verify = createAccessTokenVerifier(cfg);
    const { accessToken } = signAccessToken(cfg, 'user-1');
    expect(verify(accessToken).sub).toBe('user-1');
    vi.setSystemTime(new Date('2026-12-01T10:00:59Z'));
    expect(verify(accessToken).sub).toBe('user-1');
    vi.setSystemTime(new Date('2026-12-01T10:01:00Z'));
    expect(failure(verify, accessToken)).toBe('TokenExpiredError');
    // Still rejected: the expired token is not remembered as accepted.
    expect(failure(verify, accessToken)).toBe('TokenExpiredError');
  });

  it('does not take a token for a remembered one when only its signature differs', () => {
    const verify = createAccessTokenVerifier(cfg);
    const { accessToken } = signAccessToken(cfg, 'user-1');
    verify(accessToken);
    const [header, payload, signature] = accessToken.split('.') as [string, string, string];
    const flipped = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(failure(verify, flipped)).toBe('JsonWebTokenError');
  });

  it('remembers nothing it rejected: a refresh-typed token signed with the same key fails every time', () => {
    const verify = createAccessTokenVerifier(cfg);
    const other = jwt.sign({ typ: 'refresh' }, cfg.secret, { algorithm: 'HS256', subject: 'user-1', issuer: cfg.issuer, audience: cfg.audience, expiresIn: 60 });
    expect(failure(verify, other)).toBe('INVALID_TOKEN');
    expect(failure(verify, other)).toBe('INVALID_TOKEN');
  });

  it('keeps at most maxEntries tokens and still verifies the ones it dropped', () => {
    const verify = createAccessTokenVerifier(cfg, { maxEntries: 2 });
    const tokens = ['a', 'b', 'c'].map((id) => signAccessToken(cfg, id).accessToken);
    const spy = vi.spyOn(jwt, 'verify');
    for (const t of tokens) verify(t);
    expect(spy).toHaveBeenCalledTimes(3);
    // "a" was dropped to make room for "c": checked in full again; "c" is remembered.
    expect(verify(tokens[0] as string).sub).toBe('a');
    expect(spy).toHaveBeenCalledTimes(4);
    expect(verify(tokens[2] as string).sub).toBe('c');
    expect(spy).toHaveBeenCalledTimes(4);
    spy.mockRestore();
  });
});
