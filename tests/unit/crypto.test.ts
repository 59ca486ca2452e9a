import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, type ConfigError } from '../../src/lib/config.js';
import { createSecretBox, decodeEncryptionKey, generateEncryptionKey } from '../../src/lib/crypto.js';

const tmpDataDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'minispod-crypto-'));
const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return '';
  } catch (err) {
    return (err as ConfigError).problems.join('\n');
  }
};

describe('createSecretBox (AES-256-GCM)', () => {
  const box = createSecretBox(generateEncryptionKey());

  it('opens what it sealed, and seals the same text differently each time', () => {
    const a = box.seal('whsec_abc', 'webhook-secret:u1');
    const b = box.seal('whsec_abc', 'webhook-secret:u1');
    expect(a).toMatch(/^v1:[\w-]+:[\w-]+:[\w-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('whsec_abc');
    expect(box.open(a, 'webhook-secret:u1')).toBe('whsec_abc');
    expect(box.open(b, 'webhook-secret:u1')).toBe('whsec_abc');
  });

  it('refuses a value sealed for another context, with another key, altered, or of an unknown version', () => {
    const sealed = box.seal('secret', 'webhook-secret:u1');
    expect(() => box.open(sealed, 'webhook-secret:u2')).toThrow();
    expect(() => createSecretBox(generateEncryptionKey()).open(sealed, 'webhook-secret:u1')).toThrow();
    const [v, iv, tag, data] = sealed.split(':') as [string, string, string, string];
    const flipped = Buffer.from(data, 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() => box.open([v, iv, tag, flipped.toString('base64url')].join(':'), 'webhook-secret:u1')).toThrow();
    expect(() => box.open(['v2', iv, tag, data].join(':'), 'webhook-secret:u1')).toThrow(/version/);
  });

  it('takes only base64 (or base64url) of exactly 32 bytes as a key', () => {
    expect(decodeEncryptionKey(generateEncryptionKey())?.length).toBe(32);
    expect(decodeEncryptionKey(Buffer.alloc(32, 7).toString('base64url'))?.length).toBe(32);
    expect(decodeEncryptionKey(Buffer.alloc(16).toString('base64'))).toBeUndefined();
    expect(decodeEncryptionKey('not base64 at all!')).toBeUndefined();
    expect(() => createSecretBox('short')).toThrow(/32 bytes/);
  });
});

describe('ENCRYPTION_KEY', () => {
  it('is required in production, reported with the other problems', () => {
    const found = problems({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), PORT: 'abc' });
    expect(found).toMatch(/ENCRYPTION_KEY: required when NODE_ENV=production/);
    expect(found).toMatch(/PORT/);
    const key = generateEncryptionKey();
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), ENCRYPTION_KEY: key }).encryptionKey).toBe(key);
  });

  it('refuses a key that is not 32 bytes, in any environment, without echoing it', () => {
    const found = problems({ DATA_DIR: tmpDataDir(), ENCRYPTION_KEY: 'c2hvcnQta2V5' });
    expect(found).toMatch(/ENCRYPTION_KEY: must be base64 of 32 random bytes/);
    expect(found).not.toContain('c2hvcnQta2V5');
  });

  it('is generated once in development and kept beside the JWT secret in DATA_DIR/secrets.json', () => {
    const dir = tmpDataDir();
    const a = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir });
    const b = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir });
    expect(decodeEncryptionKey(a.encryptionKey)?.length).toBe(32);
    expect(b.encryptionKey).toBe(a.encryptionKey);
    expect(b.jwt.secret).toBe(a.jwt.secret);
    const file = path.join(dir, 'secrets.json');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ jwtSecret: a.jwt.secret, encryptionKey: a.encryptionKey });
    expect(fs.statSync(file).mode & 0o077).toBe(0);
  });

  it('is added to a secrets file written before it existed, keeping the JWT secret there', () => {
    const dir = tmpDataDir();
    const jwtSecret = 'j'.repeat(48);
    fs.writeFileSync(path.join(dir, 'secrets.json'), JSON.stringify({ jwtSecret }), { mode: 0o600 });
    const config = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir });
    expect(config.jwt.secret).toBe(jwtSecret);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'secrets.json'), 'utf8'))).toEqual({ jwtSecret, encryptionKey: config.encryptionKey });
  });
});
