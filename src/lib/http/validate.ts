import type { Request, RequestHandler, Response } from 'express';
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
 * `confirm` (see Access) runs before the problems are answered, and may answer 401/403 instead.
 */
export function validate(schemas: RequestSchemas, confirm?: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return (req, res, next) => {
    const input: ValidatedInput = { params: req.params, query: undefined, body: undefined };
    const errors: { field: string; message: string }[] = [];
    for (const part of ['params', 'query', 'body'] as const) {
      const schema = schemas[part];
      if (!schema) continue;
      const raw: unknown = part === 'body' ? (req.body ?? {}) : req[part];
      const unacceptable = findUnacceptableText(raw);
      if (unacceptable !== undefined) {
        const field = [...(part === 'body' ? [] : [part]), ...unacceptable.path].join('.') || '(root)';
        errors.push({ field, message: unacceptable.message });
        continue;
      }
      const result = schema.safeParse(raw);
      if (result.success) input[part] = result.data;
      else errors.push(...zodToFieldErrors(result.error).map((e) => ({ ...e, field: part === 'body' ? e.field : `${part}.${e.field}` })));
    }
    if (errors.length > 0) {
      const invalid = new AppError('VALIDATION_ERROR', `Validation failed: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, { errors });
      if (!confirm) throw invalid;
      return confirm(req, res).then(() => {
        throw invalid;
      });
    }
    req.input = input;
    next();
  };
}

// PostgreSQL text cannot hold NUL and Prisma cannot pass unpaired surrogates to it: without this
// check such input reaches the database and fails there as a 500.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const unstorable = (s: string) => s.includes('\0') || LONE_SURROGATE.test(s);
const UNSTORABLE_MESSAGE = 'must not contain NUL characters or unpaired UTF-16 surrogates';

interface Visit {
  value: unknown;
  key?: string;
  parent?: Visit;
}

/**
 * The first string (value or key) that cannot be stored, or the first key named `__proto__`:
 * JSON.parse makes it an ordinary key, but zod skips it and any copy into an object drops it, so a
 * label or an environment variable of that name would vanish without a word. Iterative, so deep
 * JSON cannot overflow the stack.
 */
function findUnacceptableText(root: unknown): { path: string[]; message: string } | undefined {
  const pathOf = (v: Visit): string[] => {
    const keys: string[] = [];
    for (let n: Visit | undefined = v; n?.parent; n = n.parent) keys.push(n.key as string);
    return keys.reverse();
  };
  const stack: Visit[] = [{ value: root }];
  for (let visit = stack.pop(); visit; visit = stack.pop()) {
    const { value } = visit;
    if (typeof value === 'string') {
      if (unstorable(value)) return { path: pathOf(visit), message: UNSTORABLE_MESSAGE };
    } else if (value && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        if (key === '__proto__') return { path: [...pathOf(visit), key], message: '"__proto__" is not accepted as a key' };
        if (unstorable(key)) return { path: [...pathOf(visit), '(key)'], message: UNSTORABLE_MESSAGE };
        stack.push({ value: child, key, parent: visit });
      }
    }
  }
  return undefined;
}
