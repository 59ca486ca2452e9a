import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export interface TestSmtp {
  /** `smtp://` URL of the listener (with the credentials when it requires them). */
  url: string;
  /** Every message accepted so far, parsed. */
  messages: ParsedMail[];
  /** The next `count` messages are refused with `code` at RCPT TO. */
  refuseNext: (count: number, code?: number, message?: string) => void;
  /** Resolves with the messages once `predicate` holds for them; rejects after `timeoutMs`. */
  waitFor: (predicate: (messages: ParsedMail[]) => boolean, timeoutMs?: number) => Promise<ParsedMail[]>;
  /** The accepted messages addressed to `to`. */
  to: (address: string) => ParsedMail[];
  close: () => Promise<void>;
}

/**
 * A real SMTP listener (the `smtp-server` package) on 127.0.0.1, port 0. Messages are parsed with
 * `mailparser`, so tests assert what a mail client would show.
 */
export async function startTestSmtp(options: { user?: string; password?: string } = {}): Promise<TestSmtp> {
  const messages: ParsedMail[] = [];
  const waiters = new Set<() => void>();
  let refuse = 0;
  let refusal = { code: 451, message: 'Mailbox temporarily unavailable' };
  const requireAuth = options.user !== undefined;
  const settings: SMTPServerOptions = {
    disabledCommands: requireAuth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !requireAuth,
    allowInsecureAuth: true,
    logger: false,
    onAuth: (auth, _session, cb) => {
      if (auth.username === options.user && auth.password === options.password) cb(null, { user: auth.username });
      else cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo: (_address, _session, cb) => {
      if (refuse > 0) {
        refuse--;
        cb(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
      } else cb();
    },
    onData: (stream, _session, cb) => {
      simpleParser(stream).then(
        (mail) => {
          messages.push(mail);
          for (const w of waiters) w();
          cb();
        },
        (err: Error) => cb(err),
      );
    },
  };
  const server = new SMTPServer(settings);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  const auth = requireAuth ? `${encodeURIComponent(options.user ?? '')}:${encodeURIComponent(options.password ?? '')}@` : '';
  const recipients = (m: ParsedMail) => [m.to].flat().flatMap((a) => a?.value.map((v) => v.address?.toLowerCase()) ?? []);

  return {
    url: `smtp://${auth}127.0.0.1:${port}`,
    messages,
    refuseNext: (count, code = 451, message = 'Mailbox temporarily unavailable') => {
      refuse = count;
      refusal = { code, message };
    },
    waitFor: (predicate, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(messages)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(messages);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`SMTP: condition not met within ${timeoutMs} ms; ${messages.length} message(s) received: ${messages.map((m) => m.subject).join(', ')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    to: (address) => messages.filter((m) => recipients(m).includes(address.toLowerCase())),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The token of the first link in a message that points at `page` of the dashboard. */
export function linkToken(mail: ParsedMail, page: string): string {
  const match = new RegExp(`/${page}\\?token=([A-Za-z0-9_%-]+)`).exec(mail.text ?? '');
  if (!match?.[1]) throw new Error(`no /${page} link in "${mail.subject}":\n${mail.text}`);
  return decodeURIComponent(match[1]);
}
