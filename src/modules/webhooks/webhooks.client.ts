import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';

export const DEFAULT_TIMEOUT_MS = 15_000;
/** How much of a response body an attempt keeps; reading stops there. */
export const MAX_RESPONSE_BODY_BYTES = 1024;
const USER_AGENT = 'minispod-webhooks/1.0';

export interface WebhookClientOptions {
  /** Addresses (or CIDR ranges) that may be reached although they are not public: WEBHOOK_ALLOW_IPS. */
  allowIps: readonly string[];
  timeoutMs?: number;
  /** The resolver; the agent checks whatever address it returns. Tests name hosts with it. */
  lookup?: LookupFunction;
}

export interface PostResult {
  /** Absent when no response arrived (refused, unreachable, timed out). */
  status?: number;
  /** At most MAX_RESPONSE_BODY_BYTES of it, as text. */
  body?: string;
  retryAfter?: string;
  error?: string;
  durationMs: number;
}

export interface WebhookClient {
  post: (url: string, headers: Record<string, string>, body: string) => Promise<PostResult>;
  close: () => void;
}

/** PostgreSQL text cannot hold NUL; a receiver's bytes are kept as readable text. */
const asText = (bytes: Buffer) => bytes.toString('utf8').replaceAll('\u0000', '\uFFFD');

/** The agent's refusal, said plainly (its own message names an option of the library). */
function describeError(err: Error & { code?: string }): string {
  const refused = /DNS lookup (\S+?)\(.*is not allowed/.exec(err.message);
  if (refused) return `Refused to connect to ${refused[1]}: not a public address (loopback, private, link-local, metadata or reserved)`;
  return err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message;
}

/**
 * POSTs deliveries. Every connection goes through request-filtering-agent, which checks the
 * address a name resolved to at connect time (no window between a check and the connection for
 * DNS rebinding to use), and direct IP hosts too. Redirects are never followed (node's client
 * does not), so a 3xx is just a failed attempt. The timeout bounds the whole exchange, body
 * included; keep-alive sockets are reused between deliveries to the same receiver.
 */
export function createWebhookClient(options: WebhookClientOptions): WebhookClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const filter = { allowPrivateIPAddress: false, allowMetaIPAddress: false, allowIPAddressList: [...options.allowIps] };
  const agentOptions = { keepAlive: true, maxSockets: 32, maxFreeSockets: 8, scheduling: 'lifo' as const, ...filter };
  const agents = { http: new RequestFilteringHttpAgent(agentOptions), https: new RequestFilteringHttpsAgent(agentOptions) };

  const post = (target: string, headers: Record<string, string>, body: string) =>
    new Promise<PostResult>((resolve) => {
      const started = performance.now();
      let settled = false;
      const finish = (result: Omit<PostResult, 'durationMs'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...result, durationMs: Math.round(performance.now() - started) });
      };
      const url = new URL(target);
      const secure = url.protocol === 'https:';
      const request = (secure ? https : http).request(
        url,
        {
          method: 'POST',
          agent: secure ? agents.https : agents.http,
          lookup: options.lookup,
          headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': USER_AGENT, ...headers },
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          const answer = (error?: string) => {
            const text = asText(Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BODY_BYTES));
            const retryAfter = response.headers['retry-after'];
            finish({ status: response.statusCode, body: text, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, error });
          };
          response.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            size += chunk.length;
            // Enough kept: the rest is not read (the socket is closed rather than drained).
            if (size >= MAX_RESPONSE_BODY_BYTES) {
              answer();
              response.destroy();
            }
          });
          response.on('end', () => answer());
          response.on('error', (err) => answer(describeError(err)));
          response.on('aborted', () => answer('The response was cut off'));
        },
      );
      const timer = setTimeout(() => request.destroy(new Error(`No complete response within ${timeoutMs / 1000} s`)), timeoutMs);
      request.on('error', (err) => finish({ error: describeError(err) }));
      request.end(body);
    });

  return {
    post,
    close: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
