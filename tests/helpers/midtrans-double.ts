import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP server that speaks Midtrans' documented API: Snap's create-transaction
 * (`POST /snap/v1/transactions` -> 201 `{ token, redirect_url }`) and the v2 API's
 * `GET /v2/{order_id}/status` and `POST /v2/{order_id}/expire`, behind Basic auth with the server
 * key. It validates what it is sent as Midtrans does (400 `error_messages`, 401 for a wrong key),
 * keeps each order's state, and is scripted by tests: the customer pays, the payment expires,
 * the next calls fail with 500.
 */

export type MidtransTransactionStatus = 'pending' | 'settlement' | 'capture' | 'expire' | 'cancel' | 'deny' | 'failure' | 'refund';

export interface DoubleOrder {
  orderId: string;
  grossAmount: number;
  token: string;
  snapRequest: Record<string, unknown>;
  /** null until the customer chooses a payment method: until then the status API answers 404. */
  transactionStatus: MidtransTransactionStatus | null;
  fraudStatus: 'accept' | 'challenge' | 'deny';
  paymentType: string;
  transactionId: string;
  transactionTime: string;
  /** What the status API reports as gross_amount, when a test makes it differ from what Snap was sent. */
  reportedAmount?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
  contentType?: string;
  accept?: string;
  body: unknown;
}

type Route = 'snap' | 'status' | 'expire';

export interface MidtransDouble {
  serverKey: string;
  clientKey: string;
  /** The configuration that points the API at this double. */
  env: { MIDTRANS_SERVER_KEY: string; MIDTRANS_CLIENT_KEY: string; MIDTRANS_SNAP_URL: string; MIDTRANS_API_URL: string };
  requests: RecordedRequest[];
  orders: Map<string, DoubleOrder>;
  /** The customer chose a method and the payment reached this state. */
  setStatus: (orderId: string, status: MidtransTransactionStatus, options?: { fraudStatus?: DoubleOrder['fraudStatus']; paymentType?: string; reportedAmount?: string }) => void;
  /** The next `times` calls to `route` (for `orderId` only, when given) answer `status` with Midtrans' error body. */
  fail: (route: Route, options?: { status?: number; times?: number; orderId?: string }) => void;
  /** The body Midtrans posts to the notification URL for the order's current state, signed with the server key unless `signature_key` is given. */
  notification: (orderId: string, overrides?: Record<string, string>) => Record<string, string> & { signature_key: string };
  close: () => Promise<void>;
}

export const signature = (orderId: string, statusCode: string, grossAmount: string, serverKey: string) => createHash('sha512').update(`${orderId}${statusCode}${grossAmount}${serverKey}`).digest('hex');

/** Midtrans' status_code for a transaction_status (the v2 API's "Code 2xx/4xx" table). */
const statusCodeOf = (o: DoubleOrder) =>
  o.transactionStatus === 'expire' ? '407' : o.transactionStatus === 'settlement' || (o.transactionStatus === 'capture' && o.fraudStatus === 'accept') || o.transactionStatus === 'refund' ? '200' : o.transactionStatus === 'pending' || o.transactionStatus === 'capture' ? '201' : '202';

const ORDER_ID = /^[A-Za-z0-9\-_~.]{1,50}$/;
const SNAP_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}$/;
const UNITS = ['minute', 'minutes', 'hour', 'hours', 'day', 'days'];

function snapProblems(body: unknown, orders: Map<string, DoubleOrder>): string[] {
  const problems: string[] = [];
  const b = (body ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const td = b.transaction_details;
  if (!td) return ['transaction_details is required'];
  if (typeof td.order_id !== 'string' || !ORDER_ID.test(td.order_id)) problems.push('transaction_details.order_id is invalid');
  else if (orders.has(td.order_id)) problems.push('transaction_details.order_id has already been taken');
  if (typeof td.gross_amount !== 'number' || !Number.isInteger(td.gross_amount) || td.gross_amount < 1) problems.push('transaction_details.gross_amount must be an integer of at least 1');
  const cd = b.customer_details;
  if (cd && cd.email !== undefined && (typeof cd.email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(cd.email))) problems.push('customer_details.email format is invalid');
  const ex = b.expiry;
  if (ex) {
    if (ex.start_time !== undefined && (typeof ex.start_time !== 'string' || !SNAP_TIME.test(ex.start_time))) problems.push('expiry.start_time format is invalid, use yyyy-MM-dd HH:mm:ss Z');
    if (typeof ex.unit !== 'string' || !UNITS.includes(ex.unit)) problems.push('expiry.unit is invalid');
    if (typeof ex.duration !== 'number' || !Number.isInteger(ex.duration) || ex.duration < 1) problems.push('expiry.duration must be a positive integer');
  }
  return problems;
}

export async function startMidtransDouble(): Promise<MidtransDouble> {
  const serverKey = `SB-Mid-server-${randomUUID().replace(/-/g, '').slice(0, 24)}`;
  const clientKey = `SB-Mid-client-${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const expectedAuth = `Basic ${Buffer.from(`${serverKey}:`).toString('base64')}`;
  const requests: RecordedRequest[] = [];
  const orders = new Map<string, DoubleOrder>();
  const failures: { route: Route; status: number; times: number; orderId?: string }[] = [];
  let base = '';

  const statusBody = (o: DoubleOrder) => {
    const code = statusCodeOf(o);
    const gross = o.reportedAmount ?? `${o.grossAmount}.00`;
    return {
      status_code: code,
      status_message: 'Success, transaction is found',
      transaction_id: o.transactionId,
      order_id: o.orderId,
      merchant_id: 'G000000000',
      gross_amount: gross,
      currency: 'IDR',
      payment_type: o.paymentType,
      transaction_time: o.transactionTime,
      transaction_status: o.transactionStatus as string,
      fraud_status: o.fraudStatus,
      signature_key: signature(o.orderId, code, gross, serverKey),
    };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization, contentType: req.headers['content-type'], accept: req.headers.accept, body });
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      const snap = req.method === 'POST' && path === '/snap/v1/transactions';
      const v2 = /^\/v2\/([^/]+)\/(status|expire)$/.exec(path);
      const route: Route | undefined = snap ? 'snap' : v2 && req.method === (v2[2] === 'status' ? 'GET' : 'POST') ? (v2[2] as Route) : undefined;
      if (!route) return send(404, { status_code: '404', status_message: 'The requested resource is not found' });
      const orderId = v2 ? decodeURIComponent(v2[1] as string) : (body as { transaction_details?: { order_id?: string } } | undefined)?.transaction_details?.order_id;

      const failure = failures.find((f) => f.route === route && (!f.orderId || f.orderId === orderId));
      if (failure) {
        if (--failure.times <= 0) failures.splice(failures.indexOf(failure), 1);
        return route === 'snap' ? send(failure.status, { error_messages: ['Sorry. Our system is recovering from unexpected issues. Please retry.'] }) : send(failure.status, { status_code: String(failure.status), status_message: 'An unexpected error occurred' });
      }
      if (req.headers.authorization !== expectedAuth) {
        return route === 'snap'
          ? send(401, { error_messages: ['Access denied due to unauthorized transaction, please check client or server key', 'Visit https://snap-docs.midtrans.com/#request-headers for more details'] })
          : send(401, { status_code: '401', status_message: 'Unknown Merchant server_key/id' });
      }

      if (route === 'snap') {
        if (!req.headers['content-type']?.startsWith('application/json')) return send(400, { error_messages: ['Content-Type must be application/json'] });
        const problems = snapProblems(body, orders);
        if (problems.length > 0) return send(400, { error_messages: problems });
        const b = body as { transaction_details: { order_id: string; gross_amount: number } };
        const token = randomUUID();
        orders.set(b.transaction_details.order_id, {
          orderId: b.transaction_details.order_id,
          grossAmount: b.transaction_details.gross_amount,
          token,
          snapRequest: body as Record<string, unknown>,
          transactionStatus: null,
          fraudStatus: 'accept',
          paymentType: 'bank_transfer',
          transactionId: randomUUID(),
          transactionTime: new Date().toISOString().replace('T', ' ').slice(0, 19),
        });
        return send(201, { token, redirect_url: `${base}/snap/v4/redirection/${token}` });
      }

      const order = orders.get(orderId as string);
      if (!order?.transactionStatus) return send(404, { status_code: '404', status_message: "Transaction doesn't exist.", id: randomUUID() });
      if (route === 'status') return send(200, statusBody(order));
      if (order.transactionStatus !== 'pending') return send(412, { status_code: '412', status_message: 'Merchant cannot modify the status of the transaction' });
      order.transactionStatus = 'expire';
      return send(200, { ...statusBody(order), status_message: 'Success, transaction is expired' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    serverKey,
    clientKey,
    env: { MIDTRANS_SERVER_KEY: serverKey, MIDTRANS_CLIENT_KEY: clientKey, MIDTRANS_SNAP_URL: `${base}/snap/v1/transactions`, MIDTRANS_API_URL: `${base}/v2` },
    requests,
    orders,
    setStatus: (orderId, status, options = {}) => {
      const order = orders.get(orderId);
      if (!order) throw new Error(`The double has no order ${orderId}`);
      order.transactionStatus = status;
      if (options.fraudStatus) order.fraudStatus = options.fraudStatus;
      if (options.paymentType) order.paymentType = options.paymentType;
      if (options.reportedAmount) order.reportedAmount = options.reportedAmount;
    },
    fail: (route, { status = 500, times = 1, orderId } = {}) => {
      failures.push({ route, status, times, orderId });
    },
    notification: (orderId, overrides = {}) => {
      const order = orders.get(orderId);
      const body: Record<string, string> = order?.transactionStatus
        ? { ...statusBody(order), status_message: 'midtrans payment notification' }
        : { order_id: orderId, status_code: '200', gross_amount: '10000.00', transaction_status: 'settlement', fraud_status: 'accept', currency: 'IDR', payment_type: 'bank_transfer' };
      Object.assign(body, overrides);
      return { ...body, signature_key: overrides.signature_key ?? signature(body.order_id as string, body.status_code as string, body.gross_amount as string, serverKey) };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
