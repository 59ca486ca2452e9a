import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { webhookBody } from '../../src/modules/webhooks/webhooks.events.js';
import { MAX_ATTEMPTS, MAX_RETRY_AFTER_MS, nextAttemptAt, RETRY_DELAYS_MS, retryAfterMs, retryDelayMs } from '../../src/modules/webhooks/webhooks.schedule.js';
import { generateSecret, signedHeaders } from '../../src/modules/webhooks/webhooks.secrets.js';
import { normalizeUrl, urlProblem } from '../../src/modules/webhooks/webhooks.url.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const strict = { allowHttp: false, allowIps: [] as string[] };

describe('the retry schedule', () => {
  it("is PHASE2.md's: at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h after the attempt before, ten attempts in all", () => {
    expect(RETRY_DELAYS_MS).toEqual([5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 14 * H, 20 * H, 24 * H]);
    expect(MAX_ATTEMPTS).toBe(10);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => retryDelayMs(n, () => 0.5))).toEqual([...RETRY_DELAYS_MS]);
    expect(retryDelayMs(10, () => 0.5)).toBeUndefined();
  });

  it('jitters each wait by at most 10% either way', () => {
    expect(retryDelayMs(2, () => 0)).toBe(270 * S);
    expect(retryDelayMs(2, () => 0.999999)).toBeLessThanOrEqual(330 * S);
    const seen = new Set(Array.from({ length: 50 }, () => retryDelayMs(1)));
    expect(seen.size).toBeGreaterThan(10);
    for (const ms of seen) {
      expect(ms).toBeGreaterThanOrEqual(4500);
      expect(ms).toBeLessThanOrEqual(5500);
    }
  });

  it('waits as long as Retry-After asks when that is longer than the schedule, in seconds or as a date, up to 24 h', () => {
    const now = new Date('2026-12-02T10:00:00Z');
    expect(retryAfterMs('120', now)).toBe(120 * S);
    expect(retryAfterMs('Wed, 02 Dec 2026 10:10:00 GMT', now)).toBe(10 * M);
    expect(retryAfterMs('999999999', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(nextAttemptAt(1, 10, now, '120', () => 0.5)?.getTime()).toBe(now.getTime() + 120 * S);
    // A shorter Retry-After does not bring the schedule forward.
    expect(nextAttemptAt(2, 10, now, '1', () => 0.5)?.getTime()).toBe(now.getTime() + 5 * M);
    expect(nextAttemptAt(10, 10, now, undefined)).toBeUndefined();
    // A manual retry allows one attempt: then the delivery fails.
    expect(nextAttemptAt(4, 4, now, undefined)).toBeUndefined();
  });
});

describe('urlProblem (what the URL alone shows)', () => {
  const refused = [
    'https://127.0.0.1/hook',
    'https://localhost/hook',
    'https://api.localhost/hook',
    'https://[::1]/hook',
    'https://169.254.169.254/latest/meta-data',
    'https://10.0.0.1/hook',
    'https://192.168.1.10/hook',
    'https://100.64.0.1/hook',
    'https://2130706433/hook',
    'https://0x7f.1/hook',
    'https://[::ffff:127.0.0.1]/hook',
    'https://[fd00:ec2::254]/hook',
    'https://0.0.0.0/hook',
    'https://224.0.0.1/hook',
  ];
  it.each(refused)('refuses %s', (url) => {
    expect(urlProblem(url, strict)).toMatch(/must not point at/);
  });

  it('accepts public https URLs and names it cannot resolve here', () => {
    expect(urlProblem('https://example.com/webhooks?x=1', strict)).toBeUndefined();
    expect(urlProblem('https://93.184.215.14:8443/hook', strict)).toBeUndefined();
    expect(urlProblem('https://[2606:4700::1111]/hook', strict)).toBeUndefined();
  });

  it('takes https only unless WEBHOOK_ALLOW_HTTP, and never credentials', () => {
    expect(urlProblem('http://example.com/hook', strict)).toBe('must be an https URL');
    expect(urlProblem('http://example.com/hook', { ...strict, allowHttp: true })).toBeUndefined();
    expect(urlProblem('ftp://example.com/hook', { ...strict, allowHttp: true })).toBe('must be an http or https URL');
    expect(urlProblem('https://user:pass@example.com/hook', strict)).toMatch(/credentials/);
    expect(urlProblem('https://user@example.com/hook', strict)).toMatch(/credentials/);
    expect(urlProblem('example.com/hook', strict)).toMatch(/absolute URL/);
  });

  it('lets WEBHOOK_ALLOW_IPS name addresses and ranges, and nothing around them', () => {
    const policy = { allowHttp: true, allowIps: ['127.0.0.1', '10.1.0.0/16'] };
    expect(urlProblem('http://127.0.0.1:8080/hook', policy)).toBeUndefined();
    expect(urlProblem('http://2130706433:8080/hook', policy)).toBeUndefined();
    expect(urlProblem('http://10.1.200.3/hook', policy)).toBeUndefined();
    expect(urlProblem('http://10.2.0.1/hook', policy)).toMatch(/must not point at/);
    expect(urlProblem('http://127.0.0.2/hook', policy)).toMatch(/must not point at/);
    expect(urlProblem('http://[::ffff:127.0.0.1]/hook', policy)).toMatch(/must not point at/);
  });

  it('stores numeric hosts as the address they mean, without a fragment', () => {
    expect(normalizeUrl('https://Example.COM/a#frag')).toBe('https://example.com/a');
    expect(normalizeUrl('http://0x7f.1:9/x')).toBe('http://127.0.0.1:9/x');
  });
});

describe('signing', () => {
  it('signs id.timestamp.body so that the standardwebhooks package verifies it, once per secret', () => {
    const [a, b] = [generateSecret(), generateSecret()];
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const body = webhookBody({ type: 'webhook.test', occurredAt: new Date('2026-12-02T10:00:00Z'), subjectType: 'webhook', subjectId: 'wh1', data: { webhookId: 'wh1' } });
    expect(JSON.parse(body)).toEqual({ type: 'webhook.test', timestamp: '2026-12-02T10:00:00.000Z', data: { webhookId: 'wh1', object: 'webhook', id: 'wh1' } });
    const headers = signedHeaders('evt_1', new Date(), body, [a, b]);
    expect(headers['webhook-id']).toBe('evt_1');
    expect(headers['webhook-signature']).toMatch(/^v1,\S+ v1,\S+$/);
    expect(new Webhook(a).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(b).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow(/No matching signature/);
    expect(() => new Webhook(a).verify(body.replace('wh1', 'wh2'), headers)).toThrow();
  });
});
