import type { Config } from '../../lib/config.js';
import type { DbClient } from '../../lib/db.js';
import type { EventRow } from '../../lib/events.js';
import { ACCOUNT_EVENTS, issueAccountToken, type PasswordChangedBy } from '../auth/index.js';
import { ENDPOINT_DISABLED_EVENT, type EndpointDisabledData } from '../webhooks/index.js';
import { BILLING_EMAILS, type SubscriptionContext } from './notifications.billing.js';
import { renderEmail, type EmailContent, type RenderedEmail } from './notifications.layout.js';

export interface EmailDeps {
  config: Pick<Config, 'jwt' | 'mail' | 'billing'>;
  /** The billing emails' subscriptions, when read beforehand for a batch of events (readSubscriptionContexts). */
  subscriptions?: ReadonlyMap<string, SubscriptionContext>;
}

export interface PreparedEmail {
  to: string;
  content: EmailContent;
}

/**
 * A template: who gets it and what it says, worked out from its event. It is prepared when the
 * dispatcher writes the message (recipient and subject are stored) and again by each send
 * attempt (so links carrying tokens are never stored). Undefined: this event sends no such email.
 */
export interface EmailTemplate {
  name: string;
  prepare: (tx: DbClient, event: EventRow, deps: EmailDeps) => Promise<PreparedEmail | undefined>;
}

const when = (d: Date) => d.toUTCString();
const link = (deps: EmailDeps, page: string, token: string) => `${deps.config.mail.publicAppUrl}/${page}?token=${encodeURIComponent(token)}`;
const activeUser = (tx: DbClient, where: { id: string } | { email: string }) =>
  tx.user.findFirst({ where: { ...where, isActive: true }, select: { id: true, name: true, email: true, emailVerifiedAt: true } });
/** The active account of the address an event names in its data (a reset asked for, a registration tried). */
const ownerOfAddress = async (tx: DbClient, event: EventRow) => {
  const email = (event.data as { email?: unknown } | null)?.email;
  return typeof email === 'string' ? activeUser(tx, { email }) : null;
};

const emailVerification: EmailTemplate = {
  name: 'email-verification',
  prepare: async (tx, event, deps) => {
    const user = event.userId ? await activeUser(tx, { id: event.userId }) : null;
    if (!user || user.emailVerifiedAt) return undefined;
    const { token, expiresAt } = await issueAccountToken(tx, deps.config, { eventId: event.id, userId: user.id, email: user.email, purpose: 'VERIFY_EMAIL', issuedAt: event.occurredAt });
    return {
      to: user.email,
      content: {
        subject: 'Confirm your email address',
        name: user.name,
        paragraphs: [`Please confirm that ${user.email} is your email address, so that receipts and notices about your apps reach you.`, `The link works until ${when(expiresAt)}.`],
        action: { label: 'Confirm email address', url: link(deps, 'verify-email', token) },
        footer: 'If you did not create a minispod account, you can ignore this email.',
      },
    };
  },
};

const passwordReset: EmailTemplate = {
  name: 'password-reset',
  prepare: async (tx, event, deps) => {
    const user = await ownerOfAddress(tx, event);
    // No account (or a deactivated one) with that address: nothing is sent, and the requester was told the same as anyone.
    if (!user) return undefined;
    const { token, expiresAt } = await issueAccountToken(tx, deps.config, { eventId: event.id, userId: user.id, email: user.email, purpose: 'RESET_PASSWORD', issuedAt: event.occurredAt });
    return {
      to: user.email,
      content: {
        subject: 'Reset your password',
        name: user.name,
        paragraphs: ['Someone asked to reset the password of your minispod account.', `The link works once, until ${when(expiresAt)}. Setting a new password signs out every device.`],
        action: { label: 'Choose a new password', url: link(deps, 'reset-password', token) },
        footer: 'If you did not ask for this, ignore this email: your password stays as it is.',
      },
    };
  },
};

const registrationAttempted: EmailTemplate = {
  name: 'registration-attempted',
  prepare: async (tx, event, deps) => {
    const user = await ownerOfAddress(tx, event);
    // The account was deleted or deactivated since: nothing to tell.
    if (!user) return undefined;
    return {
      to: user.email,
      content: {
        subject: 'Someone tried to create an account with your email address',
        name: user.name,
        paragraphs: [
          `On ${when(event.occurredAt)} someone tried to create a new minispod account with ${user.email}. You already have an account with this address, so no new account was created and nothing about yours changed.`,
          'If it was you, sign in with your existing account; if you forgot its password, reset it.',
        ],
        action: { label: 'Reset your password', url: `${deps.config.mail.publicAppUrl}/forgot-password` },
        footer: 'If it was not you, you can ignore this email.',
      },
    };
  },
};

const BY: Record<PasswordChangedBy, string> = {
  self: 'You changed it from your account settings.',
  reset: 'It was set through a password reset link sent to this address.',
  administrator: 'An administrator set a new password for your account.',
};

const passwordChanged: EmailTemplate = {
  name: 'password-changed',
  prepare: async (tx, event, deps) => {
    const user = event.userId ? await tx.user.findUnique({ where: { id: event.userId }, select: { name: true, email: true } }) : null;
    if (!user) return undefined;
    const by = (event.data as { by?: PasswordChangedBy } | null)?.by ?? 'self';
    return {
      to: user.email,
      content: {
        subject: 'Your password was changed',
        name: user.name,
        paragraphs: [`The password of your minispod account was changed on ${when(event.occurredAt)}.`, BY[by] ?? BY.self, 'Every device that was signed in has been signed out.'],
        action: { label: 'Not you? Reset your password', url: `${deps.config.mail.publicAppUrl}/forgot-password` },
      },
    };
  },
};

const webhookDisabled: EmailTemplate = {
  name: 'webhook-disabled',
  prepare: async (tx, event, deps) => {
    const user = event.userId ? await activeUser(tx, { id: event.userId }) : null;
    const data = event.data as Partial<EndpointDisabledData> | null;
    if (!user || typeof data?.url !== 'string') return undefined;
    return {
      to: user.email,
      content: {
        subject: 'Your webhook endpoint was disabled',
        name: user.name,
        paragraphs: [
          `On ${when(event.occurredAt)} minispod stopped sending events to your webhook endpoint ${data.url}.`,
          `Why: ${data.reason ?? 'its deliveries kept failing'}.`,
          'Events that happen while it is disabled are not sent to it. Once the receiver works again, enable the endpoint (PATCH /webhooks/:id with isActive: true) and retry the deliveries you need from its delivery log.',
        ],
        action: { label: 'Open your webhooks', url: `${deps.config.mail.publicAppUrl}/webhooks` },
      },
    };
  },
};

/** Which emails each event sends. Events not listed send none. */
export const EMAILS_BY_EVENT: Record<string, EmailTemplate[]> = {
  [ACCOUNT_EVENTS.registered]: [emailVerification],
  [ACCOUNT_EVENTS.verificationRequested]: [emailVerification],
  [ACCOUNT_EVENTS.emailChanged]: [emailVerification],
  [ACCOUNT_EVENTS.passwordResetRequested]: [passwordReset],
  [ACCOUNT_EVENTS.passwordChanged]: [passwordChanged],
  [ENDPOINT_DISABLED_EVENT]: [webhookDisabled],
  ...BILLING_EMAILS,
  [ACCOUNT_EVENTS.registrationAttempted]: [registrationAttempted],
};

export const TEMPLATES = new Map(Object.values(EMAILS_BY_EVENT).flatMap((ts) => ts.map((t) => [t.name, t] as const)));

export const renderPrepared = (prepared: PreparedEmail): RenderedEmail => renderEmail(prepared.content);
