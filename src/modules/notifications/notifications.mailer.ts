import fs from 'node:fs/promises';
import path from 'node:path';
import type NodeMailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import type { Config } from '../../lib/config.js';
import type { Logger } from '../../lib/logger.js';
import type { RenderedEmail } from './notifications.layout.js';

export interface OutgoingEmail extends RenderedEmail {
  to: string;
  /** Stable across retries, so a receiver can tell a resend from a new message. */
  messageId: string;
}

export interface SentEmail {
  providerMessageId?: string;
  filePath?: string;
}

export interface Mailer {
  send: (email: OutgoingEmail) => Promise<SentEmail>;
  /** Where mail goes, for the start-up banner: never the credentials. */
  describe: () => string;
  close: () => void;
}

/** `smtp://user:pass@host:port` without the password, for logs and the banner. */
export function maskSmtpUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/**
 * nodemailer over SMTP_URL; without one, each message is written as an `.eml` file (the raw
 * message, openable in any mail client) under `<DATA_DIR>/mail`, so development needs no mail server.
 */
export function createMailer({ config, logger }: { config: Pick<Config, 'mail' | 'dataDir'>; logger: Logger }): Mailer {
  const { smtpUrl, from } = config.mail;
  // nodemailer (about 13 MB of memory) is loaded with the first message, not at start-up.
  let made: Promise<Transporter> | undefined;
  const transporter = (create: (nm: typeof NodeMailer) => Transporter) => (made ??= import('nodemailer').then((m) => create(m.default)));
  if (smtpUrl) {
    const connect = () =>
      transporter((nodemailer) => {
        const t = nodemailer.createTransport(smtpUrl, { from });
        // Bounded waits: a hung server fails the attempt, which is retried later.
        Object.assign(t.options, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 });
        return t;
      });
    return {
      send: async (email) => {
        const info = await (await connect()).sendMail({ from, to: email.to, subject: email.subject, text: email.text, html: email.html, messageId: email.messageId });
        return { providerMessageId: info.messageId };
      },
      describe: () => `SMTP ${maskSmtpUrl(smtpUrl)}`,
      close: () => void made?.then((t) => t.close(), () => undefined),
    };
  }

  const dir = path.resolve(config.dataDir, 'mail');
  const files = () => transporter((nodemailer) => nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' }));
  return {
    send: async (email) => {
      const info = await (await files()).sendMail({ from, to: email.to, subject: email.subject, text: email.text, html: email.html, messageId: email.messageId });
      await fs.mkdir(dir, { recursive: true });
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const filePath = path.join(dir, `${stamp}-${email.messageId.replace(/[^A-Za-z0-9_-]/g, '')}.eml`);
      await fs.writeFile(filePath, info.message as Buffer, { mode: 0o600 });
      logger.info(`Email "${email.subject}" to ${email.to} written to ${filePath}`);
      return { providerMessageId: info.messageId, filePath };
    },
    describe: () => `no SMTP_URL: emails are written to ${dir}`,
    close: () => undefined,
  };
}
