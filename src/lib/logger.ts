import path from 'node:path';
import winston from 'winston';
import type { Config } from './config.js';

export type Logger = winston.Logger;

const SENSITIVE_KEY = /pass(word)?|secret|token|authorization|cookie|hash|api[-_]?key/i;
const BEARER = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi;
const JWT_LIKE = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\b/g;

/** Replaces sensitive values anywhere in a log entry, so no password, token or header can reach a log. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(BEARER, '$1[REDACTED]').replace(JWT_LIKE, '[REDACTED]');
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: redact(value.message, depth + 1), stack: redact(value.stack, depth + 1) };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = SENSITIVE_KEY.test(key) ? '[REDACTED]' : redact(v, depth + 1);
  return out;
}

const redactFormat = winston.format((info) => {
  const { level, message, ...rest } = info;
  const cleaned = redact(rest) as Record<string, unknown>;
  const result = Object.assign(info, cleaned, { message: redact(message) });
  result.level = level;
  return result;
});

const pretty = winston.format.printf(({ level, message, timestamp, requestId, stack, ...meta }) => {
  const rid = requestId ? ` [${String(requestId).slice(0, 8)}]` : '';
  const extra = Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : '';
  return `${String(timestamp)} ${level}${rid}: ${String(message)}${extra}${stack ? `\n${String(stack)}` : ''}`;
});

/**
 * Console (readable or JSON by config) plus size-rotated files under the log directory:
 * error.log (errors only) and all.log.
 */
export function createLogger(config: Pick<Config, 'log'>, extraTransports: winston.transport[] = []): Logger {
  const { level, format, dir, files } = config.log;
  const base = winston.format.combine(winston.format.errors({ stack: true }), winston.format.timestamp(), redactFormat());
  const transports: winston.transport[] = [...extraTransports];
  if (level !== 'silent') {
    transports.push(
      new winston.transports.Console({
        format: format === 'json' ? winston.format.json() : winston.format.combine(winston.format.colorize(), pretty),
      }),
    );
    if (files) {
      const fileOpts = { maxsize: 10 * 1024 * 1024, maxFiles: 5, tailable: true, format: winston.format.json() };
      transports.push(
        new winston.transports.File({ ...fileOpts, filename: path.join(dir, 'error.log'), level: 'error' }),
        new winston.transports.File({ ...fileOpts, filename: path.join(dir, 'all.log') }),
      );
    }
  }
  return winston.createLogger({
    level: level === 'silent' ? 'debug' : level,
    levels: winston.config.npm.levels,
    format: base,
    transports,
    silent: transports.length === 0,
  });
}
