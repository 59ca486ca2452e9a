import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../../lib/config.js';
import { AppError } from '../../lib/errors/index.js';
import type { Logger } from '../../lib/logger.js';

/**
 * The only code that talks to Midtrans: Snap (payment pages), the v2 status and expire calls, and
 * the notification signature. The server key goes into the Authorization header and the
 * signature, nowhere else: no log line, error or response carries it.
 */

export interface SnapOrder {
  orderId: string;
  amount: number;
  customer: { firstName: string; email: string };
  startTime: Date;
  expiryMinutes: number;
}

export interface SnapPayment {
  token: string;
  redirectUrl: string;
}

/** What the status API says of an order: the fields a decision is made on. */
export interface MidtransStatus {
  orderId: string;
  statusCode: string;
  /** settlement, capture, pending, authorize, expire, cancel, deny, failure, refund, ... */
  transactionStatus: string;
  fraudStatus?: string;
  /** A decimal string, "100000.00". */
  grossAmount: string;
  currency?: string;
  paymentType?: string;
  transactionId?: string;
}

export interface NotificationSignature {
  order_id: string;
  status_code: string;
  gross_amount: string;
  signature_key: string;
}

export interface MidtransClient {
  readonly enabled: boolean;
  createSnap: (order: SnapOrder) => Promise<SnapPayment>;
  /** Undefined when Midtrans has no transaction for the order (nobody chose a payment method on its page). */
  status: (orderId: string) => Promise<MidtransStatus | undefined>;
  /** Asks Midtrans to expire a pending transaction, so that it can no longer be paid. */
  expire: (orderId: string) => Promise<void>;
  verifySignature: (n: NotificationSignature) => boolean;
}

export interface MidtransClientOptions {
  config: Config['midtrans'];
  logger: Logger;
  timeoutMs?: number;
}

export const providerDisabled = () => new AppError('PAYMENT_PROVIDER_DISABLED', 'Online top-ups are not configured on this server (MIDTRANS_SERVER_KEY and MIDTRANS_CLIENT_KEY)');

/** `yyyy-MM-dd HH:mm:ss +0700`, the form Snap's expiry.start_time takes (Jakarta time). */
export function snapTime(at: Date): string {
  const wib = new Date(at.getTime() + 7 * 3_600_000).toISOString();
  return `${wib.slice(0, 10)} ${wib.slice(11, 19)} +0700`;
}

export function createMidtransClient({ config, logger, timeoutMs = 10_000 }: MidtransClientOptions): MidtransClient {
  const { serverKey } = config;
  if (!serverKey || !config.clientKey) {
    const off = () => Promise.reject(providerDisabled());
    return { enabled: false, createSnap: off, status: off, expire: off, verifySignature: () => false };
  }
  const headers = { Accept: 'application/json', 'Content-Type': 'application/json', Authorization: `Basic ${Buffer.from(`${serverKey}:`).toString('base64')}` };

  const failed = (what: string, detail: string) => {
    logger.warn(`Midtrans ${what} failed: ${detail}`);
    return new AppError('PAYMENT_PROVIDER_ERROR', 'The payment provider did not answer as expected; please try again later');
  };

  const call = async (what: string, url: string, init: { method: string; body?: string }) => {
    let res: Response;
    try {
      res = await fetch(url, { ...init, headers, redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
      throw failed(what, err instanceof Error ? `${err.name}: ${err.message}${cause}` : String(err));
    }
    const text = await res.text().catch(() => '');
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
    } catch {
      // not JSON: judged by the HTTP status below
    }
    return { status: res.status, body };
  };
  const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
  const messages = (body: Record<string, unknown>) => (Array.isArray(body.error_messages) ? body.error_messages.join('; ') : (str(body.status_message) ?? ''));
  const orderUrl = (orderId: string, action: string) => `${config.apiUrl}/${encodeURIComponent(orderId)}/${action}`;

  return {
    enabled: true,
    async createSnap(order) {
      const body = {
        transaction_details: { order_id: order.orderId, gross_amount: order.amount },
        customer_details: { first_name: order.customer.firstName.slice(0, 255), email: order.customer.email },
        credit_card: { secure: true },
        // The payment and its page expire together, counted from now (not from when a method is chosen).
        expiry: { start_time: snapTime(order.startTime), unit: 'minute', duration: order.expiryMinutes },
        page_expiry: { unit: 'minute', duration: order.expiryMinutes },
      };
      const res = await call('Snap transaction', config.snapUrl, { method: 'POST', body: JSON.stringify(body) });
      const token = str(res.body.token);
      const redirectUrl = str(res.body.redirect_url);
      if (res.status >= 300 || !token || !redirectUrl) throw failed('Snap transaction', `HTTP ${res.status} ${messages(res.body)}`.trim());
      return { token, redirectUrl };
    },
    async status(orderId) {
      const res = await call('status check', orderUrl(orderId, 'status'), { method: 'GET' });
      // The v2 API puts its own status_code in the body, with HTTP 200 or a matching HTTP status.
      const code = str(res.body.status_code) ?? String(res.status);
      if (res.status === 404 || code === '404') return undefined;
      const status = str(res.body.transaction_status);
      const gross = str(res.body.gross_amount);
      // 407 is an expired transaction, an answer like any other.
      if ((res.status >= 300 && res.status !== 407) || (Number(code) >= 300 && code !== '407') || !status || !gross) throw failed('status check', `HTTP ${res.status}, status_code ${code} ${messages(res.body)}`.trim());
      if (str(res.body.order_id) !== orderId) throw failed('status check', `answered for order ${str(res.body.order_id)} instead of ${orderId}`);
      return {
        orderId,
        statusCode: code,
        transactionStatus: status,
        fraudStatus: str(res.body.fraud_status),
        grossAmount: gross,
        currency: str(res.body.currency),
        paymentType: str(res.body.payment_type),
        transactionId: str(res.body.transaction_id),
      };
    },
    async expire(orderId) {
      const res = await call('expire', orderUrl(orderId, 'expire'), { method: 'POST' });
      // 404 (no transaction) and 412 (no longer pending) are answers; the caller reads the status next.
      if (res.status >= 500 || Number(str(res.body.status_code) ?? 0) >= 500) throw failed('expire', `HTTP ${res.status} ${messages(res.body)}`.trim());
    },
    verifySignature(n) {
      if (!/^[0-9a-f]{128}$/i.test(n.signature_key)) return false;
      const expected = createHash('sha512').update(`${n.order_id}${n.status_code}${n.gross_amount}${serverKey}`).digest();
      return timingSafeEqual(Buffer.from(n.signature_key, 'hex'), expected);
    },
  };
}
