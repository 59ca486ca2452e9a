import type { Request, RequestHandler } from 'express';
import { createLimiter, ipKey } from '../../lib/http/index.js';
import type { ModuleDeps } from '../types.js';
import { hashToken } from './auth.sessions.js';

/** The raw body is read here because limits run before validation: a rejected request still counts. */
const bodyString = (req: Request, key: string): string | undefined => {
  const value = (req.body as Record<string, unknown> | undefined)?.[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
};

export const emailKey = (req: Request) => bodyString(req, 'email')?.trim().toLowerCase().slice(0, 254);
// Keyed by the hash: the limiter's store never holds a usable token.
export const refreshTokenKey = (req: Request) => ((t) => (t ? hashToken(t) : undefined))(bodyString(req, 'refreshToken'));
const accountAtAddress = (req: Request) => ((e) => (e ? `${e}|${ipKey(req)}` : undefined))(emailKey(req));
const emailTokenKey = (req: Request) => ((t) => (t ? hashToken(t.trim()) : undefined))(bodyString(req, 'token'));

/**
 * The stricter limits of the credential routes: one per client IP and one per account (email or
 * token), each with its own counter per route, so guessing passwords for one account from many
 * addresses is limited as well as spraying many accounts from one address. Login counts its
 * per-account failures differently (below).
 */
export function authLimiters({ config, rateLimitStore }: Pick<ModuleDeps, 'config' | 'rateLimitStore'>) {
  const { authWindowMs, authMax, authAccountMax, authAccountCeiling } = config.rateLimit;
  const perIp = (route: string, what: string) =>
    createLimiter({ name: `auth-${route}-ip`, windowMs: authWindowMs, max: authMax, store: rateLimitStore, message: `Too many ${what} attempts from this address, please try again later` });
  const pair = (route: string, key: (req: Request) => string | undefined, what: string): RequestHandler[] => [
    perIp(route, what),
    createLimiter({ name: `auth-${route}-account`, windowMs: authWindowMs, max: authAccountMax, key, store: rateLimitStore, message: `Too many ${what} attempts for this account, please try again later` }),
  ];
  const tooManyFailures = 'Too many failed login attempts for this account, please try again later';
  return {
    // Only failures count, and per account AND address: a stranger's guesses cannot lock the owner
    // out, and the owner's successful login clears their own count. The ceiling over all addresses
    // bounds a guesser with many addresses (NIST SP 800-63B 5.2.2: at most 100 consecutive failures).
    login: [
      perIp('login', 'login'),
      createLimiter({ name: 'auth-login-account-address', windowMs: authWindowMs, max: authAccountMax, key: accountAtAddress, store: rateLimitStore, failuresOnly: true, message: tooManyFailures }),
      createLimiter({ name: 'auth-login-account', windowMs: authWindowMs, max: authAccountCeiling, key: emailKey, store: rateLimitStore, failuresOnly: true, message: tooManyFailures }),
    ],
    register: pair('register', emailKey, 'registration'),
    refresh: pair('refresh', refreshTokenKey, 'token refresh'),
    forgotPassword: pair('forgot-password', emailKey, 'password reset'),
    resetPassword: pair('reset-password', emailTokenKey, 'password reset'),
    verifyEmail: pair('verify-email', emailTokenKey, 'email verification'),
    resendVerification: [createLimiter({ name: 'auth-resend-verification-ip', windowMs: authWindowMs, max: authMax, store: rateLimitStore, message: 'Too many verification emails asked for from this address, please try again later' })],
  };
}
