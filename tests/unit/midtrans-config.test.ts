import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config.js';

const env = (extra: Record<string, string>) => ({ JWT_SECRET: 'x'.repeat(32), DATA_DIR: '.data/test', ...extra });
const load = (extra: Record<string, string>) => () => loadConfig(env(extra));
const KEYS = { MIDTRANS_SERVER_KEY: 'SB-Mid-server-hunter2hunter2', MIDTRANS_CLIENT_KEY: 'SB-Mid-client-abcdefabcdef' };

describe('Midtrans configuration', () => {
  it('is off without keys, and points at the sandbox by default', () => {
    expect(loadConfig(env({})).midtrans).toEqual({
      serverKey: undefined,
      clientKey: undefined,
      environment: 'sandbox',
      snapUrl: 'https://app.sandbox.midtrans.com/snap/v1/transactions',
      apiUrl: 'https://api.sandbox.midtrans.com/v2',
      expiryMinutes: 60,
    });
  });

  it("uses Midtrans' production hosts in production, and base URLs given for a proxy or a test server", () => {
    expect(loadConfig(env({ ...KEYS, MIDTRANS_ENVIRONMENT: 'production' })).midtrans).toMatchObject({ snapUrl: 'https://app.midtrans.com/snap/v1/transactions', apiUrl: 'https://api.midtrans.com/v2' });
    expect(loadConfig(env({ ...KEYS, MIDTRANS_SNAP_URL: 'http://127.0.0.1:9/snap/v1/transactions', MIDTRANS_API_URL: 'http://127.0.0.1:9/v2/' })).midtrans).toMatchObject({ snapUrl: 'http://127.0.0.1:9/snap/v1/transactions', apiUrl: 'http://127.0.0.1:9/v2' });
  });

  it('refuses one key without the other, a currency other than IDR, and an unknown environment, never echoing the key', () => {
    expect(load({ MIDTRANS_SERVER_KEY: KEYS.MIDTRANS_SERVER_KEY })).toThrow(/MIDTRANS_SERVER_KEY and MIDTRANS_CLIENT_KEY/);
    expect(load({ MIDTRANS_CLIENT_KEY: KEYS.MIDTRANS_CLIENT_KEY })).toThrow(/MIDTRANS_SERVER_KEY and MIDTRANS_CLIENT_KEY/);
    expect(load({ ...KEYS, CURRENCY: 'USD' })).toThrow(/CURRENCY: Midtrans charges in IDR/);
    expect(load({ ...KEYS, MIDTRANS_ENVIRONMENT: 'live' })).toThrow(/MIDTRANS_ENVIRONMENT/);
    expect(load({ MIDTRANS_SERVER_KEY: KEYS.MIDTRANS_SERVER_KEY, MIDTRANS_SNAP_URL: 'ftp://x' })).toThrow(/^(?![\s\S]*hunter2)[\s\S]*MIDTRANS_SNAP_URL/);
  });
});
