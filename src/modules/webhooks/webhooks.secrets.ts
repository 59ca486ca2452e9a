import { randomBytes } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import type { SecretBox } from '../../lib/crypto.js';

/** How long the secret before a rotation still signs deliveries, so receivers can switch without losing any. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

/** `whsec_` + base64 of 32 random bytes: the form Standard Webhooks libraries take as is. */
export const generateSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** Secrets are sealed for their owner: a sealed value copied to another user's row does not open. */
const contextOf = (userId: string) => `webhook-secret:${userId}`;

export const sealSecret = (box: SecretBox, userId: string, secret: string) => box.seal(secret, contextOf(userId));
export const openSecret = (box: SecretBox, userId: string, sealed: string) => box.open(sealed, contextOf(userId));

/**
 * The Standard Webhooks headers of one attempt: `webhook-id` is the event id (the same on every
 * retry, so receivers can drop duplicates), the signature is `v1,<base64 HMAC-SHA256 of
 * id.timestamp.body>` made by the `standardwebhooks` package itself, once per secret (the
 * previous one too during a rotation), space-separated.
 */
export function signedHeaders(eventId: string, sentAt: Date, body: string, secrets: readonly string[]): Record<string, string> {
  const signatures = secrets.map((secret) => new StandardWebhook(secret).sign(eventId, sentAt, body));
  return { 'webhook-id': eventId, 'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)), 'webhook-signature': signatures.join(' ') };
}
