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
      access: guards.public,
      before: limits.register,
      body: registerBody,
      responses: { 201: { description: 'Registered', schema: sessionSchema }, 409: { description: 'Email already registered' } },
      handler: async ({ body, req, res }) => created(res, await auth.register(svc, body, clientMeta(req)), 'User registered successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/login',
      summary: 'Sign in with email and password',
      description: 'Unknown emails and wrong passwords get the same 401 in the same time. A deactivated account is refused (403) only after the password matched.',
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
      description: 'Refresh tokens are single use. Presenting a used one revokes every token of its session.',
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
      access: guards.user,
      body: updateProfileBody,
      responses: { 200: { description: 'Updated profile', schema: userWithCountSchema }, 409: { description: 'Email already registered' } },
      handler: async ({ body, req, res }) => ok(res, await auth.updateProfile(svc, userId(req), body), 'Profile updated successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/change-password',
      summary: 'Change the password of the signed-in user',
      description: 'Revokes every refresh token of the user and returns a new token pair for the caller.',
      access: guards.user,
      body: changePasswordBody,
      responses: { 200: { description: 'Password changed', schema: tokensOnlySchema } },
      handler: async ({ body, req, res }) => ok(res, await auth.changePassword(forRequest(svc, res), userId(req), body, clientMeta(req)), 'Password changed successfully'),
    }),
    defineRoute({
      method: 'delete',
      path: '/account',
      summary: 'Deactivate the signed-in account',
      description: 'Locks the account out at once and revokes its sessions. The last active administrator cannot do this (409).',
      access: guards.user,
      responses: { 200: { description: 'Account deactivated' }, 409: { description: 'Last active administrator' } },
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
      description: 'Signs out every session of the user; the owner is told by email.',
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
