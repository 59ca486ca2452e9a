import { describe, expect, it } from 'vitest';
import { loadConfig, type ConfigError } from '../../src/lib/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { createMailer, maskSmtpUrl } from '../../src/modules/notifications/index.js';
import { declareQueues, QUEUE_INFO } from '../../src/queues.js';
import { noJobs } from '../../src/lib/jobs.js';
import type { Db } from '../../src/lib/db.js';

const env = (extra: Record<string, string>) => ({ JWT_SECRET: 'x'.repeat(32), DATA_DIR: '.data/test', ...extra });
const problems = (extra: Record<string, string>) => {
  try {
    loadConfig(env(extra));
    return '';
  } catch (err) {
    return (err as ConfigError).problems.join('\n');
  }
};

describe('jobs and mail configuration', () => {
  it('defaults to Asia/Jakarta, the pgboss schema and the dashboard on port 3100', () => {
    const config = loadConfig(env({}));
    expect(config.jobs).toEqual({ enabled: true, schema: 'pgboss', pollIntervalSeconds: 2, timezone: 'Asia/Jakarta' });
    expect(config.mail).toEqual({ smtpUrl: undefined, from: 'minispod <no-reply@minispod.local>', publicAppUrl: 'http://localhost:3100' });
  });

  it('refuses an unknown time zone, a non-SMTP mail URL and a schema name that is not an identifier', () => {
    const found = problems({ BILLING_TIMEZONE: 'Mars/Olympus', SMTP_URL: 'http://mail.example.com', JOBS_SCHEMA: 'pg"boss' });
    expect(found).toMatch(/BILLING_TIMEZONE/);
    expect(found).toMatch(/SMTP_URL/);
    expect(found).toMatch(/JOBS_SCHEMA/);
    // The problem names the variable, never its value (it may carry a password).
    expect(problems({ SMTP_URL: 'ftp://user:hunter2@mail.example.com' })).not.toContain('hunter2');
  });

  it('never shows the SMTP password where it describes the mail transport', () => {
    expect(maskSmtpUrl('smtp://mailer:hunter2@smtp.example.com:587')).toBe('smtp://mailer:***@smtp.example.com:587');
    const config = loadConfig(env({ SMTP_URL: 'smtps://mailer:hunter2@smtp.example.com:465' }));
    const mailer = createMailer({ config, logger: createLogger(config) });
    expect(mailer.describe()).toBe('SMTP smtps://mailer:***@smtp.example.com:465');
    mailer.close();
  });

  it('lists every declared queue, with its dead-letter flag, for GET /admin/jobs', () => {
    const config = loadConfig(env({}));
    const queues = declareQueues({ db: {} as Db, config, logger: createLogger(config), mailer: createMailer({ config, logger: createLogger(config) }) }, noJobs);
    expect(QUEUE_INFO).toEqual(queues.map((q) => ({ name: q.name, deadLetter: q.deadLetter })));
  });
});
