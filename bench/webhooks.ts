// The `webhooks` scenario: 1,000 events, each delivered to one endpoint, end to end through the
// API process as in production. The bench user gets 5 endpoints on a receiver on loopback (the
// bench API runs with WEBHOOK_ALLOW_HTTP and WEBHOOK_ALLOW_IPS=127.0.0.1), each filtered on one
// event type. 1,000 events of those types are committed at once, as a burst of subscription and
// instance transitions would commit them, and one request (POST /webhooks/:id/test)
// triggers the dispatcher after its commit, as every producer does; the API's own dispatcher fans
// them out and its workers deliver. Measured: deliveries per second from the events to the last
// receipt, and each delivery's latency from its event (the body's timestamp) to its receipt. Every
// request is verified with the standardwebhooks package.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { newEventId } from '../src/lib/events.js';
import type { Report } from './report.js';

const API = '/api/v1';
export const WEBHOOK_EVENTS = 1000;
/**
 * One per endpoint, so each event matches exactly one endpoint's filter. Types without an email
 * template: the scenario measures the webhook side of the outbox alone.
 */
const TYPES = ['subscription.activated', 'instance.provisioning', 'instance.degraded', 'instance.stopped', 'instance.deleted'];
const TIMEOUT_MS = 120_000;

interface Receipt {
  id: string;
  latencyMs: number;
  at: number;
  verified: boolean;
}

const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;

async function call(base: string, token: string, method: string, path: string, body?: object): Promise<{ status: number; data: Record<string, unknown> }> {
  const res = await fetch(`${base}${API}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  const json = (await res.json()) as { data?: Record<string, unknown> };
  return { status: res.status, data: json.data ?? {} };
}

export async function webhooksPhase(databaseUrl: string, api: string, token: string, report: Report, log: (line: string) => void): Promise<void> {
  const secrets = new Map<string, Webhook>();
  const receipts: Receipt[] = [];
  let done: (() => void) | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      const body = Buffer.concat(chunks).toString('utf8');
      let verified = false;
      try {
        secrets.get(req.url ?? '')?.verify(body, req.headers as Record<string, string>);
        verified = secrets.has(req.url ?? '');
      } catch {
        verified = false;
      }
      const payload = JSON.parse(body) as { type: string; timestamp: string };
      res.writeHead(204).end();
      // The trigger's own test event is not one of the thousand.
      if (payload.type === 'webhook.test') return;
      const timestamp = Date.parse(payload.timestamp);
      receipts.push({ id: String(req.headers['webhook-id']), latencyMs: at - timestamp, at, verified });
      if (receipts.length >= WEBHOOK_EVENTS) done?.();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const receiver = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const endpoints: string[] = [];
    for (const [i, type] of TYPES.entries()) {
      const created = await call(api, token, 'POST', '/webhooks', { url: `${receiver}/e${i}`, events: [type] });
      if (created.status !== 201) throw new Error(`webhooks: creating an endpoint answered ${created.status}`);
      endpoints.push(created.data.id as string);
      secrets.set(`/e${i}`, new Webhook(created.data.secret as string));
    }
    const { rows: users } = await client.query<{ userId: string }>(`SELECT "userId" FROM webhooks WHERE id = $1`, [endpoints[0]]);
    const userId = users[0]?.userId as string;
    log(`webhooks: ${WEBHOOK_EVENTS} events committed at once for ${TYPES.length} endpoints (one event type each), then one after-commit trigger; delivered to a loopback receiver`);
    const allReceived = new Promise<void>((resolve) => (done = resolve));
    const t0 = Date.now();
    const ids = Array.from({ length: WEBHOOK_EVENTS }, () => newEventId());
    await client.query(
      `INSERT INTO domain_events (id, type, "userId", "subjectType", "subjectId", data, "occurredAt")
       SELECT e.id, ($2::text[])[1 + (e.n - 1) % $3::int], $4, split_part(($2::text[])[1 + (e.n - 1) % $3::int], '.', 1), 'bench-subject-' || e.n,
              jsonb_build_object('status', 'ACTIVE'), now() AT TIME ZONE 'UTC'
       FROM unnest($1::text[]) WITH ORDINALITY AS e(id, n)`,
      [ids, TYPES, TYPES.length, userId],
    );
    const trigger = await call(api, token, 'POST', `/webhooks/${endpoints[0]}/test`);
    const refused = trigger.status === 202 ? 0 : 1;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([allReceived, new Promise((resolve) => (timer = setTimeout(resolve, TIMEOUT_MS)))]);
    clearTimeout(timer);
    // occurredAt holds UTC wall time without a zone: its epoch is read as UTC.
    const query = async () =>
      (
        await client.query<{ first: number | null; succeeded: number; attempts: number }>(
          `SELECT extract(epoch FROM min(e."occurredAt"))::float8 * 1000 AS first, count(*) FILTER (WHERE d.status = 'SUCCEEDED')::int AS succeeded,
                  coalesce(sum(d.attempts), 0)::int AS attempts
             FROM webhook_deliveries d JOIN domain_events e ON e.id = d."eventId" WHERE d."eventId" = ANY($1::text[])`,
          [ids],
        )
      ).rows[0] ?? { first: null, succeeded: 0, attempts: 0 };
    // A receipt comes before the API records the attempt: give the last ones a moment.
    let stats = await query();
    for (let i = 0; i < 100 && stats.succeeded < receipts.length; i++) {
      await new Promise((r) => setTimeout(r, 100));
      stats = await query();
    }
    const first = stats.first ?? t0;
    const last = Math.max(...receipts.map((r) => r.at));
    const seconds = (last - first) / 1000;
    const latencies = receipts.map((r) => r.latencyMs).sort((a, b) => a - b);
    const unverified = receipts.filter((r) => !r.verified).length;
    const duplicates = receipts.length - new Set(receipts.map((r) => r.id)).size;
    const missing = WEBHOOK_EVENTS - new Set(receipts.map((r) => r.id)).size;
    report.rows.push({
      scenario: 'webhooks',
      description: `${WEBHOOK_EVENTS} events committed at once, fanned out over ${TYPES.length} filtered endpoints to a loopback receiver; rate: deliveries/s; latency: event to receipt`,
      requests: receipts.length,
      rps: Math.round(WEBHOOK_EVENTS / seconds),
      p50: Math.round(percentile(latencies, 0.5)),
      p90: Math.round(percentile(latencies, 0.9)),
      p99: Math.round(percentile(latencies, 0.99)),
      max: Math.round(latencies[latencies.length - 1] ?? 0),
      non2xx: unverified + duplicates + missing,
      errors: refused,
      timeouts: 0,
      seconds,
    });
    report.notes.push(
      `webhooks: ${receipts.length} received (${unverified} unverified, ${duplicates} duplicate, ${missing} missing), ` +
        `${stats.succeeded} deliveries SUCCEEDED in ${stats.attempts} attempts, last receipt ${seconds.toFixed(1)} s after the first event`,
    );
  } finally {
    await client.end();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
