import dns from 'node:dns';
import http from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  id: string;
  at: number;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Never answer (the request stays open until the receiver closes). */
  hang?: boolean;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Every request, to any path. */
  requests: ReceivedRequest[];
  /** A path of its own on this receiver, so that tests sharing it do not read each other's requests. */
  endpoint: () => ReceiverEndpoint;
  close: () => Promise<void>;
}

export interface ReceiverEndpoint {
  url: string;
  path: string;
  requests: () => ReceivedRequest[];
  /** The next requests to this path get these answers, in order; after them, 200 "ok". */
  reply: (...replies: Reply[]) => void;
  /** Resolves once `count` requests reached this path. */
  waitFor: (count: number, timeoutMs?: number) => Promise<ReceivedRequest[]>;
}

/** Whether the `standardwebhooks` package accepts the request as signed with `secret` (timestamp within its 5 minutes included). */
export function verifies(request: ReceivedRequest, secret: string): boolean {
  try {
    new Webhook(secret).verify(request.body, request.headers as Record<string, string>);
    return true;
  } catch {
    return false;
  }
}

/** A real HTTP receiver on loopback that records every request and answers as scripted. */
export async function startWebhookReceiver(host = '127.0.0.1'): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const queues = new Map<string, Reply[]>();
  const waiters = new Set<() => void>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      requests.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), id: String(req.headers['webhook-id'] ?? ''), at: Date.now() });
      for (const w of waiters) w();
      const reply = queues.get(path)?.shift() ?? {};
      if (reply.hang) return;
      res.writeHead(reply.status ?? 200, { 'content-type': 'text/plain', ...reply.headers });
      res.end(reply.body ?? 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://${host}:${port}`;
  let paths = 0;
  return {
    url,
    port,
    requests,
    endpoint: () => {
      const path = `/hook-${++paths}-${Date.now().toString(36)}`;
      const mine = () => requests.filter((r) => r.path === path);
      return {
        url: url + path,
        path,
        requests: mine,
        reply: (...replies) => queues.set(path, [...(queues.get(path) ?? []), ...replies]),
        waitFor: (count, timeoutMs = 15_000) =>
          new Promise((resolve, reject) => {
            const check = () => {
              if (mine().length < count) return;
              waiters.delete(check);
              clearTimeout(timer);
              resolve(mine());
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              reject(new Error(`receiver ${path}: ${mine().length} of ${count} request(s) within ${timeoutMs} ms`));
            }, timeoutMs);
            waiters.add(check);
            check();
          }),
      };
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A resolver in which `names` point at the given addresses and every other name resolves as usual. */
export function lookupWith(names: Record<string, string>): LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    const address = names[hostname];
    if (!address) return dns.lookup(hostname, options, callback as never);
    const family = address.includes(':') ? 6 : 4;
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as LookupFunction;
}
