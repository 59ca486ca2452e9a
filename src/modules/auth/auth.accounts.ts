import type { DbClient } from '../../lib/db.js';
import { AppError } from '../../lib/errors/index.js';
import { HIDDEN_TEXT_MESSAGE, isVisibleText } from '../../lib/text.js';
import { z } from '../../lib/zod.js';
import type { Role } from '../../generated/prisma/enums.js';

/** Emails are stored trimmed and lower-cased, which makes uniqueness and login case-insensitive. */
export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email('Must be a valid email address').max(254))
  .openapi({ type: 'string', format: 'email', example: 'john@example.com' });

export const nameSchema = z
  .string()
  .trim()
  .min(2, 'Name must be at least 2 characters long')
  .max(100, 'Name must be at most 100 characters long')
  // Hidden characters would let one user pass for another in every list an administrator reads.
  .refine(isVisibleText, `Name ${HIDDEN_TEXT_MESSAGE}`);

/** The columns a user view is built from: never the password hash. */
export const USER_VIEW_SELECT = {
  id: true,
  name: true,
  email: true,
  role: true,
  isActive: true,
  lastLoginAt: true,
  emailVerifiedAt: true,
  createdAt: true,
  updatedAt: true,
} as const;

/** The same columns in SQL. */
export const USER_VIEW_COLUMNS = 'id, name, email, role, "isActive", "lastLoginAt", "emailVerifiedAt", "createdAt", "updatedAt"';

export const USER_VIEW_WITH_COUNT_SELECT = { ...USER_VIEW_SELECT, _count: { select: { subscriptions: true } } } as const;

export interface UserRow {
  id: string;
  name: string;
  email: string;
  role: Role;
  isActive: boolean;
  lastLoginAt: Date | null;
  emailVerifiedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  _count?: { subscriptions: number };
}

/**
 * Allow-list mapper: whatever the row carries, only these fields reach the wire. The subscription
 * count comes from the row's `_count`, or as `subscriptions` from a list that counted it itself.
 */
export function toUserView(row: UserRow, subscriptions: number | undefined = row._count?.subscriptions) {
  const view = {
    id: row.id,
    name: row.name,
    email: row.email,
    role: row.role,
    isActive: row.isActive,
    lastLoginAt: row.lastLoginAt,
    emailVerifiedAt: row.emailVerifiedAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
  return subscriptions === undefined ? view : Object.assign(view, { _count: { subscriptions } });
}

export const userViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    email: z.string(),
    role: z.enum(['USER', 'ADMINISTRATOR']),
    isActive: z.boolean(),
    lastLoginAt: z.iso.datetime().nullable(),
    emailVerifiedAt: z.iso.datetime().nullable().openapi({ description: 'When the owner confirmed the address; null while unverified' }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .openapi('User');

export const userWithCountSchema = userViewSchema.extend({ _count: z.object({ subscriptions: z.number().int() }) }).openapi('UserWithCount');

/**
 * Guards "the last active administrator can never be removed". Every change that can remove an
 * administrator (deactivate, demote, delete; one by one or in bulk) calls it first in its
 * transaction. Its transaction-level advisory lock serializes all of them: the count read after
 * it is current (each statement sees what committed before it) and no other removal runs until
 * this transaction ends. A change that only adds administrators takes no lock; one not committed
 * yet is not counted, which errs on the safe side. Locking the administrators' rows instead, as
 * before, let removals that saw different sets of administrators deadlock.
 */
export async function assertAdminsRemain(tx: DbClient, removing: readonly string[]): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended('users.administrators', 0))`;
  const admins = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM users WHERE role = 'ADMINISTRATOR' AND "isActive"`;
  const gone = new Set(removing);
  // None left also when none was there: only a caller whose own administrator role ended meanwhile gets here then.
  if (admins.every((a) => gone.has(a.id))) {
    throw new AppError('CONFLICT', 'The last active administrator cannot be deleted, deactivated or demoted', {
      errors: [{ field: 'role', message: 'At least one active administrator must remain' }],
    });
  }
}
