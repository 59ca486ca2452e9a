import type { DbClient } from '../../lib/db.js';
import type { EventRow } from '../../lib/events.js';
import type { EmailDeps, EmailTemplate, PreparedEmail } from './notifications.emails.js';
import type { EmailContent } from './notifications.layout.js';

/** The emails of the money and subscription lifecycle, one template per event. */

type Data = Record<string, unknown>;
// One formatter per currency: making an Intl.NumberFormat costs about a millisecond, formatting with one microseconds.
const formats = new Map<string, Intl.NumberFormat>();
const formatOf = (currency: string) => formats.get(currency) ?? formats.set(currency, new Intl.NumberFormat('id-ID', { style: 'currency', currency, maximumFractionDigits: 0 })).get(currency)!;
const money = (amount: unknown, currency: string) => formatOf(currency).format(Number(amount ?? 0));
const day = (iso: unknown) => (typeof iso === 'string' || iso instanceof Date ? new Date(iso).toUTCString().replace(/ \d\d:\d\d:\d\d GMT$/, '') : '');

interface Context {
  name: string;
  email: string;
  service: string;
  currency: string;
  sub: { currentPeriodEnd: Date; url?: string };
  data: Data;
  deps: EmailDeps;
}

const subscriptionIdOf = (event: EventRow) => {
  const id = (event.data as Data | null)?.subscriptionId;
  return typeof id === 'string' ? id : undefined;
};

// One statement for the subscription, its owner, its service and its instance (through Prisma's
// relations these were four, for every billing email).
const CONTEXT_SQL = `SELECT s.id, s."currentPeriodEnd", s.currency, u.name, u.email, c."displayName" AS service, i.url
  FROM subscriptions s JOIN users u ON u.id = s."userId" JOIN service_catalog c ON c.id = s."serviceId"
  LEFT JOIN service_instances i ON i."subscriptionId" = s.id
  WHERE s.id = ANY($1::text[])`;

/**
 * What the billing emails of `events` say of their subscriptions, read in one statement: the
 * dispatcher reads it once for a whole batch (EmailDeps.subscriptions) instead of once per email.
 */
export async function readSubscriptionContexts(tx: DbClient, events: readonly EventRow[]): Promise<Map<string, SubscriptionContext>> {
  const ids = [...new Set(events.filter((e) => e.type in BILLING_EMAILS).map(subscriptionIdOf).filter((id) => id !== undefined))];
  const rows = ids.length > 0 ? await tx.$queryRawUnsafe<(SubscriptionContext & { id: string })[]>(CONTEXT_SQL, ids) : [];
  return new Map(rows.map((r) => [r.id, r]));
}

async function context(tx: DbClient, event: EventRow, deps: EmailDeps): Promise<Context | undefined> {
  const data = (event.data ?? {}) as Data;
  const subscriptionId = subscriptionIdOf(event);
  // A batch's read (deps.subscriptions) already says which subscriptions exist: no second look for one it did not find.
  const sub = !subscriptionId ? undefined : deps.subscriptions ? deps.subscriptions.get(subscriptionId) : (await tx.$queryRawUnsafe<SubscriptionContext[]>(CONTEXT_SQL, [subscriptionId]))[0];
  const user = sub ?? (event.userId ? await tx.user.findUnique({ where: { id: event.userId }, select: { name: true, email: true } }) : null);
  if (!user) return undefined;
  return { name: user.name, email: user.email, service: sub?.service ?? '', currency: sub?.currency ?? 'IDR', sub: { currentPeriodEnd: sub?.currentPeriodEnd ?? new Date(0), url: sub?.url ?? undefined }, data, deps };
}

export interface SubscriptionContext {
  currentPeriodEnd: Date;
  currency: string;
  name: string;
  email: string;
  service: string;
  url: string | null;
}

const dashboard = (c: Context, label = 'Open your dashboard') => ({ label, url: `${c.deps.config.mail.publicAppUrl}/subscriptions` });
const wallet = (c: Context) => ({ label: 'Top up your wallet', url: `${c.deps.config.mail.publicAppUrl}/wallet` });

const template = (name: string, write: (c: Context) => Omit<EmailContent, 'name'>): EmailTemplate => ({
  name,
  prepare: async (tx, event, deps): Promise<PreparedEmail | undefined> => {
    const c = await context(tx, event, deps);
    return c && { to: c.email, content: { name: c.name, ...write(c) } };
  },
});

/** A template sent only for some events of its type (an instance's first RUNNING, a failure that was refunded). */
const onlyWhen = (test: (data: Data) => boolean, t: EmailTemplate): EmailTemplate => ({
  name: t.name,
  prepare: async (tx, event, deps) => (test((event.data ?? {}) as Data) ? t.prepare(tx, event, deps) : undefined),
});

const receipt = (c: Context) => `Receipt ${String(c.data.transactionNumber ?? '')}: ${money(c.data.amount, c.currency)} paid from your wallet.`;

export const BILLING_EMAILS: Record<string, EmailTemplate[]> = {
  'subscription.created': [
    template('subscription-created', (c) => ({
      subject: `Your ${c.service} subscription`,
      paragraphs: [`Thank you: your ${c.service} subscription is set up and its app is being started. We will email you when it is ready.`, receipt(c), `The first month runs until ${day(c.sub.currentPeriodEnd)}.`],
      action: dashboard(c),
    })),
  ],
  'subscription.renewed': [
    template('subscription-renewed', (c) => ({
      subject: `${c.service} renewed`,
      paragraphs: [`Your ${c.service} subscription was renewed until ${day(c.data.periodEnd)}.`, receipt(c)],
      action: dashboard(c),
    })),
  ],
  'subscription.renewal_upcoming': [
    template('renewal-upcoming', (c) => ({
      subject: `Top up before ${c.service} renews`,
      paragraphs: [
        `${c.service} renews on ${day(c.data.periodEnd)} for ${money(c.data.amount, c.currency)}, but your wallet holds ${money(c.data.balance, c.currency)}.`,
        `Top up at least ${money(c.data.shortfall, c.currency)} so the renewal goes through.`,
      ],
      action: wallet(c),
    })),
  ],
  'subscription.past_due': [
    template('payment-failed', (c) => ({
      subject: `Payment for ${c.service} failed`,
      paragraphs: [
        `We could not renew ${c.service}: the wallet does not cover ${money(c.data.amount, c.currency)}. Your app keeps running for now.`,
        `Top up before ${day(c.data.graceEndsAt)}; we retry every hour and as soon as your wallet is credited. After that date the app is stopped.`,
      ],
      action: wallet(c),
    })),
  ],
  'subscription.suspended': [
    template('subscription-suspended', (c) => ({
      subject: `${c.service} is suspended`,
      paragraphs: [
        c.data.reason === 'payment' ? `${c.service} was suspended because its renewal stayed unpaid. The app is stopped; its data is kept.` : `An administrator suspended ${c.service}: ${String(c.data.reason ?? '')}. The app is stopped; its data is kept.`,
        `Unless it is resumed, the app and its data are deleted on ${day(c.data.deleteAfter)}.`,
      ],
      action: c.data.reason === 'payment' ? wallet(c) : dashboard(c),
    })),
  ],
  'subscription.resumed': [
    template('subscription-resumed', (c) => ({
      subject: `${c.service} is back`,
      paragraphs: [`${c.service} is active again and its app is being started.`, ...(c.data.transactionNumber ? [receipt(c)] : [])],
      action: dashboard(c),
    })),
  ],
  'subscription.cancel_scheduled': [
    template('cancellation-scheduled', (c) => ({
      subject: `${c.service} will end on ${day(c.data.cancelAt)}`,
      paragraphs: [`As you asked, ${c.service} ends on ${day(c.data.cancelAt)} and will not renew. Until then everything keeps running.`, 'Changed your mind? Reactivate it from your dashboard before that date.'],
      action: dashboard(c),
    })),
  ],
  'subscription.cancelled': [
    // A subscription whose app could not be provisioned is announced by the instance-failed email.
    onlyWhen(
      (d) => d.reason !== 'provisioning_failed',
      template('subscription-cancelled', (c) => ({
        subject: `${c.service} is cancelled`,
        paragraphs: c.data.neverStarted
          ? [`${c.service} is cancelled before it started, and the first month was refunded to your wallet in full.`]
          : [`${c.service} is cancelled and its app is stopped. Its data is kept for ${c.deps.config.billing.retentionDays} days, then deleted.`],
        action: dashboard(c),
      })),
    ),
  ],
  'subscription.expired': [
    template('subscription-expired', (c) => ({
      subject: `${c.service} has ended`,
      paragraphs: [`${c.service} has ended and its app and data have been deleted. Thank you for using minispod.`],
    })),
  ],
  'subscription.plan_changed': [
    template('plan-changed', (c) => ({
      subject: `Your plan changed`,
      paragraphs: [
        c.data.effectiveAt ? `Your subscription moves to the new plan on ${day(c.data.effectiveAt)}, at its next renewal.` : `Your subscription is now on ${c.service}.`,
        ...(Number(c.data.amount ?? 0) > 0 ? [`${money(c.data.amount, c.currency)} was charged for the rest of the current period.`] : []),
      ],
      action: dashboard(c),
    })),
  ],
  'wallet.credited': [
    template('wallet-credited', (c) => ({
      subject: 'Your wallet was credited',
      paragraphs: [`${money(c.data.amount, 'IDR')} was added to your wallet (${String(c.data.transactionNumber ?? '')}). Your balance is now ${money(c.data.balance, 'IDR')}.`],
      action: wallet(c),
    })),
  ],
  // The URL only: credentials are shown by the API to the owner, never put in an email.
  'instance.running': [
    onlyWhen((d) => d.first === true, template('instance-ready', (c) => ({
      subject: `${c.service} is ready`,
      paragraphs: [`Your ${c.service} app is up and running at ${String(c.data.url ?? c.sub.url ?? '')}.`, 'Its sign-in details are in your dashboard.'],
      action: { label: `Open ${c.service}`, url: String(c.data.url ?? c.sub.url ?? '') },
    }))),
  ],
  'instance.failed': [
    onlyWhen((d) => d.refunded === true, template('instance-failed', (c) => ({
      subject: `${c.service} could not be started`,
      paragraphs: [`We could not start your ${c.service} app, so the subscription is cancelled and its first month refunded to your wallet in full.`, `What went wrong: ${String(c.data.reason ?? 'the app did not become ready')}.`],
      action: wallet(c),
    }))),
  ],
};
