import type { Config } from '../../lib/config.js';
import type { Db, DbClient } from '../../lib/db.js';
import { AppError, notFound } from '../../lib/errors/index.js';
import { recordEvent } from '../../lib/events.js';
import type { JobQueue } from '../../lib/jobs.js';
import type { Logger } from '../../lib/logger.js';
import { toUserView, USER_VIEW_SELECT } from './auth.accounts.js';
import { hashPassword } from './auth.passwords.js';
import { ENDS_ACCESS_TOKENS, revokeUserSessions } from './auth.sessions.js';
import { consumeAccountToken, invalidAccountToken } from './auth.tokens.js';

/** Email verification and password reset: the account flows that go through the outbox and email. */
export interface RecoveryDeps {
  db: Db;
  config: Pick<Config, 'jwt' | 'bcryptCost'>;
  logger: Logger;
  jobs: JobQueue;
}

export const ACCOUNT_EVENTS = {
  registered: 'user.registered',
  verificationRequested: 'user.verification_requested',
  emailChanged: 'user.email_changed',
  passwordResetRequested: 'user.password_reset_requested',
  passwordChanged: 'user.password_changed',
  /** Someone registered with an address that already has an account; its owner is told. */
  registrationAttempted: 'user.registration_attempted',
} as const;

/** Who changed a password, as the notice tells the owner. */
export type PasswordChangedBy = 'self' | 'reset' | 'administrator';

/** A verification email may be asked for again after this long. */
export const RESEND_COOLDOWN_MS = 60_000;

export const dispatchSoon = (jobs: JobQueue) => jobs.trigger('events.dispatch');

export const recordPasswordChanged = (tx: DbClient, userId: string, by: PasswordChangedBy) =>
  recordEvent(tx, { type: ACCOUNT_EVENTS.passwordChanged, userId, subjectType: 'user', subjectId: userId, data: { by } });

export async function verifyEmail({ db, logger }: RecoveryDeps, token: string) {
  const now = new Date();
  const user = await db.$transaction(async (tx) => {
    const claim = await consumeAccountToken(tx, token, 'VERIFY_EMAIL', now);
    // The link proves control of the address it was sent to, not of one the user changed to since.
    const updated = await tx.user.updateMany({ where: { id: claim.userId, email: claim.email }, data: { emailVerifiedAt: now } });
    if (updated.count !== 1) throw invalidAccountToken();
    return tx.user.findUniqueOrThrow({ where: { id: claim.userId }, select: USER_VIEW_SELECT });
  });
  logger.info('Email verified', { userId: user.id });
  return toUserView(user);
}

export async function resendVerification({ db, jobs }: RecoveryDeps, userId: string): Promise<void> {
  const now = new Date();
  await db.$transaction(async (tx) => {
    // Locks the user's row, so two resends at once are serialized and the cooldown holds across processes.
    const [user] = await tx.$queryRaw<{ emailVerifiedAt: Date | null }[]>`SELECT "emailVerifiedAt" FROM users WHERE id = ${userId} FOR UPDATE`;
    if (!user) throw notFound('user', userId);
    if (user.emailVerifiedAt) throw new AppError('CONFLICT', 'This email address is already verified');
    const recent = await tx.domainEvent.findFirst({
      where: { userId, type: { in: [ACCOUNT_EVENTS.registered, ACCOUNT_EVENTS.verificationRequested, ACCOUNT_EVENTS.emailChanged] }, occurredAt: { gt: new Date(now.getTime() - RESEND_COOLDOWN_MS) } },
      orderBy: { occurredAt: 'desc' },
      select: { occurredAt: true },
    });
    if (recent) {
      const wait = Math.ceil((recent.occurredAt.getTime() + RESEND_COOLDOWN_MS - now.getTime()) / 1000);
      throw new AppError('RATE_LIMITED', `A verification email was sent less than a minute ago; try again in ${wait} s`, { headers: { 'Retry-After': String(Math.max(1, wait)) } });
    }
    await recordEvent(tx, { type: ACCOUNT_EVENTS.verificationRequested, userId, subjectType: 'user', subjectId: userId }, now);
  });
  dispatchSoon(jobs);
}

/**
 * Always the same work whatever the address: one event is written, and whether an account has
 * that address is decided later by the dispatcher, off the request. The answer and its timing
 * cannot tell who has an account.
 */
export async function forgotPassword({ db, jobs }: RecoveryDeps, email: string): Promise<void> {
  await recordEvent(db, { type: ACCOUNT_EVENTS.passwordResetRequested, subjectType: 'email', subjectId: email, data: { email } });
  dispatchSoon(jobs);
}

export async function resetPassword({ db, config, logger, jobs }: RecoveryDeps, input: { token: string; newPassword: string }): Promise<void> {
  const password = await hashPassword(input.newPassword, config.bcryptCost);
  const now = new Date();
  const userId = await db.$transaction(async (tx) => {
    const claim = await consumeAccountToken(tx, input.token, 'RESET_PASSWORD', now);
    const user = await tx.user.findUnique({ where: { id: claim.userId }, select: { email: true, emailVerifiedAt: true } });
    if (!user) throw invalidAccountToken();
    // Following the link also proves the address, when it is still the user's.
    const verified = user.emailVerifiedAt ?? (user.email === claim.email ? now : null);
    await tx.user.update({ where: { id: claim.userId }, data: { password, emailVerifiedAt: verified, ...ENDS_ACCESS_TOKENS } });
    // Every other reset link of the user dies with this one.
    await tx.accountToken.updateMany({ where: { userId: claim.userId, purpose: 'RESET_PASSWORD', usedAt: null }, data: { usedAt: now } });
    await revokeUserSessions(tx, claim.userId);
    await recordPasswordChanged(tx, claim.userId, 'reset');
    return claim.userId;
  });
  dispatchSoon(jobs);
  logger.info('Password reset; every session revoked', { userId });
}
