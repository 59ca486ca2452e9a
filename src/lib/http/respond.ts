import type { Response } from 'express';
import { type AppError, HTTP_STATUS, type ErrorCode } from '../errors/index.js';
import { requestIdOf } from './request-context.js';

const isConvertible = (value: object) => !(value instanceof Date) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';

function hasBigInt(value: unknown): boolean {
  if (typeof value === 'bigint') return true;
  if (value === null || typeof value !== 'object' || !isConvertible(value)) return false;
  if (Array.isArray(value)) return value.some(hasBigInt);
  for (const key in value) if (hasBigInt((value as Record<string, unknown>)[key])) return true;
  return false;
}

function convert(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object' || !isConvertible(value)) return value;
  if (Array.isArray(value)) return value.map(convert);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = convert(v);
  return out;
}

/**
 * The one place wire types are fixed: BigInt becomes a decimal string (JSON has no BigInt), Dates
 * become ISO strings through their own toJSON. Most responses hold no BigInt (mappers already
 * write them as text): those are sent as they are, without a copy.
 */
export const toWire = (value: unknown): unknown => (hasBigInt(value) ? convert(value) : value);

/**
 * Writes one JSON envelope, as res.json would, without its detours: res.json hands its string to
 * res.send, which parses the Content-Type back to add the charset and looks for ETag and freshness
 * settings that never apply here (no ETag is generated, see app.ts; no envelope is 204 or 304).
 * That was about 4% of a heartbeat's CPU. Node itself leaves out the body of a HEAD response.
 */
function writeJson(res: Response, statusCode: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.statusCode = statusCode;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
}

export function send(res: Response, statusCode: number, message: string, data?: unknown): void {
  writeJson(res, statusCode, { success: true, message, data: toWire(data ?? null), timestamp: new Date().toISOString(), statusCode });
}

export const ok = (res: Response, data: unknown, message = 'Success') => send(res, 200, message, data);
export const created = (res: Response, data: unknown, message = 'Created') => send(res, 201, message, data);

export function sendError(res: Response, err: AppError, extra: Record<string, unknown> = {}): void {
  const statusCode = HTTP_STATUS[err.code];
  if (err.headers) for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  writeJson(res, statusCode, {
    success: false,
    message: err.message,
    code: err.code satisfies ErrorCode,
    ...(err.errors ? { errors: err.errors } : {}),
    ...extra,
    timestamp: new Date().toISOString(),
    statusCode,
    requestId: requestIdOf(res),
  });
}
