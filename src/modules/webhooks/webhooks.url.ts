import net from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Config } from '../../lib/config.js';

export type UrlPolicy = Config['webhooks'];

export const MAX_URL_LENGTH = 2048;

/**
 * Whether an address may be reached: public unicast, or named in WEBHOOK_ALLOW_IPS. The same
 * rule request-filtering-agent applies at connect time (ipaddr.js ranges: loopback, private,
 * link-local and so cloud metadata, CGNAT, multicast, reserved, IPv4-mapped IPv6 and the rest),
 * so what creation accepts is what delivery connects to.
 */
export function isAllowedAddress(address: string, allowIps: readonly string[]): boolean {
  const parsed = ipaddr.parse(address);
  for (const entry of allowIps) {
    if (!entry.includes('/')) {
      if (entry === address) return true;
      continue;
    }
    const [range, bits] = ipaddr.parseCIDR(entry);
    if (range.kind() === parsed.kind() && parsed.match(range, bits)) return true;
  }
  return parsed.range() === 'unicast';
}

/** `localhost` and `*.localhost` always mean this machine (RFC 6761). */
const isLocalhostName = (host: string) => host === 'localhost' || host.endsWith('.localhost');

/**
 * What the URL alone shows is unsafe: a scheme other than https (http only with
 * WEBHOOK_ALLOW_HTTP), credentials, or a host that is a non-public address or localhost. Numeric
 * hosts are read as the WHATWG URL parser reads them, as the HTTP client will: `2130706433` and
 * `0x7f.1` are 127.0.0.1. Names that resolve to such an address are refused at connect time.
 * `addresses: false` leaves the address to that connect-time check. Returns the reason, or
 * undefined when the URL may be used.
 */
export function urlProblem(raw: string, policy: UrlPolicy, { addresses = true } = {}): string | undefined {
  if (raw.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute URL such as https://example.com/webhooks';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    return policy.allowHttp ? 'must be an http or https URL' : 'must be an https URL';
  }
  if (url.username || url.password) return 'must not contain credentials (user or password)';
  if (!addresses) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (!host) return 'must name a host';
  if (isLocalhostName(host)) return isAllowedAddress('127.0.0.1', policy.allowIps) ? undefined : 'must not point at this server (localhost)';
  if (net.isIP(host) !== 0 && !isAllowedAddress(host, policy.allowIps)) {
    return 'must not point at a loopback, private, link-local, metadata or other reserved address';
  }
  return undefined;
}

/** The URL as stored: parsed and written back (so `2130706433` is stored as the 127.0.0.1 it means), without a fragment. */
export function normalizeUrl(raw: string): string {
  const url = new URL(raw);
  url.hash = '';
  return url.toString();
}
