import { z } from '../zod.js';

/** Query-string boolean: only the words a person would type; `z.coerce.boolean` would read "false" as true. */
export const queryBool = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1')
  .openapi({ type: 'boolean' });

export const MAX_PAGE_SIZE = 100;

/** `page`, `limit` (default 10, capped at 100), `search`, whitelisted `sortBy`, `sortOrder`. */
export function listQuery<const S extends readonly [string, ...string[]]>(sortFields: S, defaultSort: S[number]) {
  return z.strictObject({
    page: z.coerce.number().int().min(1).max(1_000_000).default(1),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .default(10)
      .transform((n) => Math.min(n, MAX_PAGE_SIZE)),
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
