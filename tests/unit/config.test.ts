import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/lib/config.js';

const tmpDataDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'minispod-config-'));

describe('loadConfig', () => {
  it('refuses to start in production without a JWT secret', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET: required/);
  });

  it('refuses a production JWT secret shorter than 32 bytes', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'short' })).toThrow(/at least 32 bytes/);
  });

  it('reports every problem at once', () => {
    try {
      loadConfig({ PORT: 'abc', BCRYPT_COST: '99', CORS_ORIGINS: 'http://a', LOG_FORMAT: 'xml' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toMatch(/PORT/);
      expect(problems).toMatch(/BCRYPT_COST/);
      expect(problems).toMatch(/LOG_FORMAT/);
    }
  });

  it('reports a missing production secret together with the other problems', () => {
    try {
      loadConfig({ NODE_ENV: 'production', PORT: 'abc' });
      expect.unreachable();
    } catch (err) {
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toMatch(/PORT/);
      expect(problems).toMatch(/JWT_SECRET: required/);
    }
  });

  it('writes access lines by default outside tests (level http)', () => {
    const dir = tmpDataDir();
    expect(loadConfig({ NODE_ENV: 'development', DATA_DIR: dir }).log.level).toBe('http');
    expect(loadConfig({ NODE_ENV: 'test', DATA_DIR: dir }).log.level).toBe('silent');
  });

  it('generates a development secret once and reuses it across restarts', () => {
    const dir = tmpDataDir();
    const a = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir });
    const b = loadConfig({ NODE_ENV: 'development', DATA_DIR: dir });
    expect(a.jwt.secret.length).toBeGreaterThanOrEqual(32);
    expect(b.jwt.secret).toBe(a.jwt.secret);
    expect(fs.statSync(path.join(dir, 'secrets.json')).mode & 0o077).toBe(0);
  });

  it('parses lists, booleans and numbers and freezes the result', () => {
    const cfg = loadConfig({ DATA_DIR: tmpDataDir(), CORS_ORIGINS: 'http://a.test, http://b.test', TRUST_PROXY: '2', SEED_ON_FIRST_RUN: 'false', PORT: '8080' });
    expect(cfg.corsOrigins).toEqual(['http://a.test', 'http://b.test']);
    expect(cfg.trustProxy).toBe(2);
    expect(cfg.seedOnFirstRun).toBe(false);
    expect(cfg.port).toBe(8080);
    expect(Object.isFrozen(cfg.rateLimit)).toBe(true);
  });

  it('keeps rate limits in memory unless REDIS_URL names a redis:// or rediss:// server, and never echoes that URL', () => {
    const dir = tmpDataDir();
    expect(loadConfig({ DATA_DIR: dir }).redis).toEqual({ url: undefined, keyPrefix: 'minispod:' });
    expect(loadConfig({ DATA_DIR: dir, REDIS_URL: 'rediss://default:pw@cache.internal:6380/2', REDIS_KEY_PREFIX: 'eu1:' }).redis).toEqual({ url: 'rediss://default:pw@cache.internal:6380/2', keyPrefix: 'eu1:' });
    for (const bad of ['http://:s3cret@cache.internal:6379', 'cache.internal:6379']) {
      try {
        loadConfig({ DATA_DIR: dir, REDIS_URL: bad });
        expect.unreachable();
      } catch (err) {
        expect((err as ConfigError).problems).toEqual(['REDIS_URL: a redis:// or rediss:// URL']);
        expect((err as ConfigError).message).not.toContain('s3cret');
      }
    }
    expect(() => loadConfig({ DATA_DIR: dir, REDIS_KEY_PREFIX: 'has space' })).toThrow(/REDIS_KEY_PREFIX/);
  });

  it('defaults to 12 bcrypt rounds, a 90 s heartbeat grace and the dashboard origins', () => {
    const cfg = loadConfig({ DATA_DIR: tmpDataDir() });
    expect(cfg.bcryptCost).toBe(12);
    expect(cfg.heartbeatGraceSeconds).toBe(90);
    expect(cfg.corsOrigins).toEqual(['http://localhost:3000', 'http://localhost:3100']);
    expect(cfg.log.format).toBe('pretty');
  });
});
