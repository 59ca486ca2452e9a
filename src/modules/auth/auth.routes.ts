import type { Request } from 'express';
import { created, defineRoute, forRequest, ok, send, type RouteDef } from '../../lib/http/index.js';
import { sqlFor } from '../../lib/sql.js';
import type { ModuleDeps } from '../types.js';
import { authLimiters } from './auth.limits.js';
import { dummyHash } from './auth.passwords.js';
import * as recovery from './auth.recovery.js';
import {
  changePasswordBody,
  forgotPasswordBody,
  resetPasswordBody,
  verifyEmailBody,
  loginBody,
  meSchema,
  refreshTokenBody,
  registerBody,
  sessionSchema,
  tokensOnlySchema,
  updateProfileBody,
  userViewSchema,
  userWithCountSchema,
} from './auth.schemas.js';
import * as auth from './auth.service.js';
import type { ClientMeta } from './auth.sessions.js';

const clientMeta = (req: Request): ClientMeta => ({ userAgent: req.get('user-agent'), ipAddress: req.ip });
const userId = (req: Request) => (req.user as NonNullable<Request['user']>).id;

export function authRoutes(deps: ModuleDeps): RouteDef[] {
  const { guards } = deps;
  const svc: auth.AuthDeps = { db: deps.db, sql: sqlFor(deps.db), config: deps.config, logger: deps.logger, jobs: deps.jobs, dummyHash: dummyHash(deps.config.bcryptCost) };
  const limits = authLimiters(deps);

  return [
    defineRoute({
      method: 'post',
      path: '/register',
      summary: 'Create an account (role USER) and sign in',
      description:
        'An address that already has an account gets the same 201 with the same fields, so the answer does not tell who has an account; ' +
        'no account is created or changed, the owner of the address is told by email, and the user and tokens of that answer belong to no account (the tokens are refused wherever they are used).',
      access: guards.public,
      before: limits.register,
      body: registerBody,
      responses: { 201: { description: 'Registered (or, for a taken address, an answer of the same form that grants nothing)', schema: sessionSchema } },
      handler: async ({ body, req, res }) => created(res, await auth.register(svc, body, clientMeta(req)), 'User registered successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/login',
      summary: 'Sign in with email and password',
      description:
        'Unknown emails and wrong passwords get the same 401 in the same time. A deactivated account is refused (403) only after the password matched. ' +
        'Failed attempts are limited per account and client address (a success clears that count), so nobody can lock the owner out from elsewhere, and per account over all addresses at a higher ceiling (429).',
      access: guards.public,
      before: limits.login,
      body: loginBody,
      responses: { 200: { description: 'Signed in', schema: sessionSchema }, 403: { description: 'Account deactivated' } },
      handler: async ({ body, req, res }) => ok(res, await auth.login(forRequest(svc, res), body, clientMeta(req)), 'Login successful'),
    }),
    defineRoute({
      method: 'post',
      path: '/refresh',
      summary: 'Exchange a refresh token for a new token pair',
      description:
        'Refresh tokens are rotated on every use. Presenting one again within REFRESH_TOKEN_REUSE_INTERVAL_SECONDS (10 s) of its rotation (two tabs, a retried request) ' +
        'answers with new tokens of the same session; presenting it later, or a revoked one, revokes every token of its session.',
      access: guards.public,
      before: limits.refresh,
      body: refreshTokenBody,
      responses: { 200: { description: 'New tokens', schema: tokensOnlySchema } },
      handler: async ({ body, req, res }) => ok(res, await auth.refresh(forRequest(svc, res), body.refreshToken, clientMeta(req)), 'Token refreshed successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/logout',
      summary: 'End the session of a refresh token',
      description: 'Possession of the refresh token is the credential, so an expired access token does not prevent logging out.',
      access: guards.public,
      body: refreshTokenBody,
      responses: { 200: { description: 'Signed out' } },
      handler: async ({ body, res }) => {
        await auth.logout(svc, body.refreshToken);
        ok(res, null, 'Logout successful');
      },
    }),
    defineRoute({
      method: 'get',
      path: '/me',
      summary: 'The signed-in user',
      access: guards.user,
      responses: { 200: { description: 'Current user', schema: meSchema } },
      handler: async ({ req, res }) => ok(res, { user: await auth.getProfile(svc, userId(req)), authenticated: true }, 'User is authenticated'),
    }),
    defineRoute({
      method: 'get',
      path: '/profile',
      summary: 'Profile of the signed-in user',
      access: guards.user,
      responses: { 200: { description: 'Profile', schema: userWithCountSchema } },
      handler: async ({ req, res }) => ok(res, await auth.getProfile(svc, userId(req), true), 'Profile retrieved successfully'),
    }),
    defineRoute({
      method: 'put',
      path: '/profile',
      summary: 'Update name or email of the signed-in user',
      description: 'A new email takes `currentPassword` (400 without it or when it is wrong) and is unverified until confirmed through the link sent to it.',
      access: guards.user,
      body: updateProfileBody,
      responses: { 200: { description: 'Updated profile', schema: userWithCountSchema }, 409: { description: 'Email already registered' } },
      handler: async ({ body, req, res }) => ok(res, await auth.updateProfile(svc, userId(req), body), 'Profile updated successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/change-password',
      summary: 'Change the password of the signed-in user',
      description:
        'Ends every session of the user at once (refresh tokens revoked, access tokens refused, the caller\'s included) and returns a new token pair for the caller. ' +
        'Of concurrent changes only the first applies; the others get 400 as their current password no longer matches.',
      access: guards.user,
      body: changePasswordBody,
      responses: { 200: { description: 'Password changed', schema: tokensOnlySchema } },
      handler: async ({ body, req, res }) => ok(res, await auth.changePassword(forRequest(svc, res), userId(req), body, clientMeta(req)), 'Password changed successfully'),
    }),
    defineRoute({
      method: 'delete',
      path: '/account',
      summary: 'Deactivate the signed-in account',
      description: 'Locks the account out at once and ends its sessions. Administrators cannot deactivate themselves (403); another administrator can.',
      access: guards.user,
      responses: { 200: { description: 'Account deactivated' } },
      handler: async ({ req, res }) => {
        await auth.deactivateAccount(forRequest(svc, res), userId(req));
        ok(res, null, 'Account deactivated successfully');
      },
    }),
    defineRoute({
      method: 'post',
      path: '/verify-email',
      summary: 'Confirm an email address with the token from the verification email',
      access: guards.public,
      before: limits.verifyEmail,
      body: verifyEmailBody,
      responses: { 200: { description: 'Verified; the user', schema: userViewSchema } },
      handler: async ({ body, res }) => ok(res, await recovery.verifyEmail(svc, body.token), 'Email verified successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/resend-verification',
      summary: 'Send the verification email again',
      description: 'At most once a minute per account (429 with Retry-After otherwise); 409 when the address is already verified.',
      access: guards.user,
      before: limits.resendVerification,
      responses: { 202: { description: 'A verification email is on its way' } },
      handler: async ({ req, res }) => {
        await recovery.resendVerification(svc, userId(req));
        send(res, 202, 'Verification email sent', null);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/forgot-password',
      summary: 'Email a password reset link',
      description: 'Always 202 with the same body, whether or not an account has this address. The link works once, for 30 minutes.',
      access: guards.public,
      before: limits.forgotPassword,
      body: forgotPasswordBody,
      responses: { 202: { description: 'If an account has this address, a reset link is on its way' } },
      handler: async ({ body, res }) => {
        await recovery.forgotPassword(svc, body.email);
        send(res, 202, 'If an account exists for this email, a password reset link has been sent', null);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/reset-password',
      summary: 'Set a new password with the token from the reset email',
      description: 'Ends every session of the user at once (refresh and access tokens); the owner is told by email.',
      access: guards.public,
      before: limits.resetPassword,
      body: resetPasswordBody,
      responses: { 200: { description: 'Password changed' } },
      handler: async ({ body, res }) => {
        await recovery.resetPassword(svc, body);
        ok(res, null, 'Password has been reset; sign in with the new password');
      },
    }),
  ];
}
