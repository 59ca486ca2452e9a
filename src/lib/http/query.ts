import { z } from '../zod.js';

/** Query-string boolean: only the words a person would type; `z.coerce.boolean` would read "false" as true. */
export const queryBool = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1')
  .openapi({ type: 'boolean' });

export const MAX_PAGE_SIZE = 100;

/** Query-string integer in decimal digits: `z.coerce.number` would read "0x10" as 16, "1e3" as 1000 and " 2" as 2. */
const queryInt = (min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^[0-9]+$/, 'must be a whole number in decimal digits')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .openapi({ type: 'integer', minimum: min, ...(max < Number.MAX_SAFE_INTEGER && { maximum: max }), default: fallback });

/** `page`, `limit` (default 10, capped at 100), `search`, whitelisted `sortBy`, `sortOrder`. */
export function listQuery<const S extends readonly [string, ...string[]]>(sortFields: S, defaultSort: S[number]) {
  return z.strictObject({
    page: queryInt(1, 1_000_000, 1).default(1),
    limit: queryInt(1, Number.MAX_SAFE_INTEGER, 10)
      .transform((n) => Math.min(n, MAX_PAGE_SIZE))
      .default(10),
    search: z.string().trim().max(100).optional(),
    sortBy: z.enum(sortFields).default(defaultSort),
    sortOrder: z.enum(['asc', 'desc']).default('desc'),
  });
}

export interface Pagination {
  page: number;
  limit: number;
  total: number;
  totalPages: number;
  hasNext: boolean;
  hasPrev: boolean;
  /** The dashboard's names for page and total. */
  currentPage: number;
  totalCount: number;
}

export function paginate(page: number, limit: number, total: number): Pagination {
  const totalPages = Math.ceil(total / limit);
  return { page, limit, total, totalPages, hasNext: page < totalPages, hasPrev: page > 1, currentPage: page, totalCount: total };
}

export const pageWindow = (page: number, limit: number) => ({ skip: (page - 1) * limit, take: limit });

export const paginationSchema = z.object({
  page: z.number().int(),
  limit: z.number().int(),
  total: z.number().int(),
  totalPages: z.number().int(),
  hasNext: z.boolean(),
  hasPrev: z.boolean(),
  currentPage: z.number().int(),
  totalCount: z.number().int(),
});

/** Route params that are ids: bounded, so junk never reaches the database. */
export const idParam = z.strictObject({ id: z.string().min(1).max(64) });
