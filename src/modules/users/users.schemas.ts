import { listQuery, paginationSchema, queryBool } from '../../lib/http/index.js';
import { z } from '../../lib/zod.js';
import { Role } from '../../generated/prisma/enums.js';
import { emailSchema, nameSchema, passwordSchema, userWithCountSchema } from '../auth/index.js';

export const USER_SORT_FIELDS = ['createdAt', 'updatedAt', 'name', 'email', 'role'] as const;

const roleSchema = z.enum(Role);

export const listUsersQuery = listQuery(USER_SORT_FIELDS, 'createdAt').extend({ role: roleSchema.optional(), isActive: queryBool.optional() });

export const createUserBody = z
  .strictObject({ name: nameSchema, email: emailSchema, password: passwordSchema, role: roleSchema.default('USER'), isActive: z.boolean().default(true) })
  .openapi('CreateUserRequest');

export const updateUserBody = z
  .strictObject({ name: nameSchema.optional(), email: emailSchema.optional(), role: roleSchema.optional(), isActive: z.boolean().optional() })
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'Send at least one of name, email, role, isActive' })
  .openapi('UpdateUserRequest');

export const resetPasswordBody = z.strictObject({ newPassword: passwordSchema }).openapi('ResetUserPasswordRequest');

export const BULK_ACTIONS = ['activate', 'deactivate', 'delete', 'set-role'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

export const bulkBody = z
  .strictObject({
    action: z.enum(BULK_ACTIONS),
    userIds: z.array(z.string().min(1).max(64)).min(1, 'Send at least one user id').max(100, 'At most 100 user ids per request'),
    role: roleSchema.optional().openapi({ description: 'Required with, and only allowed with, action set-role' }),
  })
  .superRefine((b, ctx) => {
    if (b.action === 'set-role' && b.role === undefined) ctx.addIssue({ code: 'custom', path: ['role'], message: 'role is required with action set-role' });
    if (b.action !== 'set-role' && b.role !== undefined) ctx.addIssue({ code: 'custom', path: ['role'], message: 'role is only allowed with action set-role' });
  })
  .openapi('BulkUsersRequest');

export const usersListSchema = z.object({ users: z.array(userWithCountSchema), pagination: paginationSchema });

export const userStatsSchema = z
  .object({
    totalUsers: z.number().int(),
    activeUsers: z.number().int(),
    inactiveUsers: z.number().int(),
    adminUsers: z.number().int(),
    regularUsers: z.number().int(),
    byRole: z.object({ USER: z.number().int(), ADMINISTRATOR: z.number().int() }),
    newUsersLast7Days: z.number().int(),
    newUsersLast30Days: z.number().int(),
    usersWithSubscriptions: z.number().int(),
    usersWithoutSubscriptions: z.number().int(),
  })
  .openapi('UserStats');

export const bulkResultSchema = z
  .object({
    action: z.enum(BULK_ACTIONS),
    requested: z.number().int(),
    affected: z.number().int(),
    results: z.array(z.object({ id: z.string(), status: z.enum(['updated', 'unchanged', 'deleted']) })),
  })
  .openapi('BulkUsersResult');
