import type { Response } from 'express';
import { type AppError, HTTP_STATUS, type ErrorCode } from '../errors/index.js';

/** Turns BigInt into decimal strings and Dates into ISO strings: the one place wire types are fixed. */
export function toWire(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toWire(v);
    return out;
  }
  return value;
}

export function send(res: Response, statusCode: number, message: string, data?: unknown): void {
  res.status(statusCode).json({ success: true, message, data: toWire(data ?? null), timestamp: new Date().toISOString(), statusCode });
}

export const ok = (res: Response, data: unknown, message = 'Success') => send(res, 200, message, data);
export const created = (res: Response, data: unknown, message = 'Created') => send(res, 201, message, data);

export function sendError(res: Response, err: AppError, extra: Record<string, unknown> = {}): void {
  const statusCode = HTTP_STATUS[err.code];
  if (err.headers) for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  res.status(statusCode).json({
    success: false,
    message: err.message,
    code: err.code satisfies ErrorCode,
    ...(err.errors ? { errors: err.errors } : {}),
    ...extra,
    timestamp: new Date().toISOString(),
    statusCode,
    requestId: res.locals.requestId as string | undefined,
  });
}
