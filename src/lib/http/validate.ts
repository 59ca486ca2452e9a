import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { AppError, zodToFieldErrors } from '../errors/index.js';

export interface ValidatedInput {
  params: unknown;
  query: unknown;
  body: unknown;
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Parsed, coerced request input; set by `validate`. */
    input?: ValidatedInput;
  }
}

export interface RequestSchemas {
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
}

/**
 * One zod middleware for params, query and body. Every part is checked and all problems are
 * reported together; the parsed values are stored on `req.input` (Express 5's `req.query` is read-only).
 */
export function validate(schemas: RequestSchemas): RequestHandler {
  return (req, _res, next) => {
    const input: ValidatedInput = { params: req.params, query: undefined, body: undefined };
    const errors: { field: string; message: string }[] = [];
    for (const part of ['params', 'query', 'body'] as const) {
      const schema = schemas[part];
      if (!schema) continue;
      const raw: unknown = part === 'body' ? (req.body ?? {}) : req[part];
      const result = schema.safeParse(raw);
      if (result.success) input[part] = result.data;
      else errors.push(...zodToFieldErrors(result.error).map((e) => ({ ...e, field: part === 'body' ? e.field : `${part}.${e.field}` })));
    }
    if (errors.length > 0) throw new AppError('VALIDATION_ERROR', `Validation failed: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, { errors });
    req.input = input;
    next();
  };
}
