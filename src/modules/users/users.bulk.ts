import { AppError, type FieldError } from '../../lib/errors/index.js';
import type { Role } from '../../generated/prisma/enums.js';
import { assertAdminsRemain, ENDS_ACCESS_TOKENS, revokeUserSessions } from '../auth/index.js';
import type { BulkAction } from './users.schemas.js';
import type { UsersDeps } from './users.service.js';

export interface BulkInput {
  action: BulkAction;
  userIds: string[];
  role?: Role;
}

type BulkStatus = 'updated' | 'unchanged' | 'deleted';

const problems = (ids: string[], all: string[], message: (id: string) => string): FieldError[] =>
  ids.map((id) => ({ field: `userIds.${all.indexOf(id)}`, message: message(id) }));

/** The state each action leaves a user in; `undefined` for delete. */
function target(input: BulkInput): { isActive?: boolean; role?: Role } | undefined {
  if (input.action === 'activate') return { isActive: true };
  if (input.action === 'deactivate') return { isActive: false };
  if (input.action === 'set-role') return { role: input.role };
  return undefined;
}

/**
 * Applies one action to up to 100 users, all or nothing: every id is checked first (exists, not the
 * caller, not the last administrator, no subscriptions for delete) and any problem refuses the whole
 * request, naming each offending id. Duplicated ids count once.
 */
export async function bulkUpdate({ db, logger }: UsersDeps, actorId: string, input: BulkInput) {
  const ids = [...new Set(input.userIds)];
  const removesAdmins = input.action === 'deactivate' || input.action === 'delete' || (input.action === 'set-role' && input.role === 'USER');
  if (removesAdmins && ids.includes(actorId)) {
    throw new AppError('FORBIDDEN', 'You cannot delete, deactivate or demote your own account', {
      errors: problems([actorId], input.userIds, () => 'This is your own account'),
    });
  }

  const results = await db.$transaction(async (tx) => {
    if (removesAdmins) await assertAdminsRemain(tx, ids);
    const rows = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM users WHERE id = ANY(${ids}::text[]) ORDER BY id FOR UPDATE`;
    const found = await tx.user.findMany({ where: { id: { in: rows.map((r) => r.id) } }, select: { id: true, role: true, isActive: true, _count: { select: { subscriptions: true } } } });
    const byId = new Map(found.map((u) => [u.id, u]));

    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length > 0) throw new AppError('NOT_FOUND', `${missing.length} of the users were not found`, { errors: problems(missing, input.userIds, (id) => `User '${id}' not found`) });

    const state = target(input);
    if (!state) {
      const subscribed = found.filter((u) => u._count.subscriptions > 0).map((u) => u.id);
      if (subscribed.length > 0) {
        throw new AppError('CONFLICT', 'Some users have subscriptions; deactivate them instead', { errors: problems(subscribed, input.userIds, () => 'The user has subscriptions') });
      }
      await tx.user.deleteMany({ where: { id: { in: ids } } });
      return ids.map((id) => ({ id, status: 'deleted' as BulkStatus }));
    }

    const changed = found.filter((u) => (state.isActive !== undefined && u.isActive !== state.isActive) || (state.role !== undefined && u.role !== state.role)).map((u) => u.id);
    if (changed.length > 0) await tx.user.updateMany({ where: { id: { in: changed } }, data: state.isActive === false ? { ...state, ...ENDS_ACCESS_TOKENS } : state });
    if (state.isActive === false) await revokeUserSessions(tx, changed);
    const changedSet = new Set(changed);
    return ids.map((id) => ({ id, status: (changedSet.has(id) ? 'updated' : 'unchanged') as BulkStatus }));
  });

  const affected = results.filter((r) => r.status !== 'unchanged').length;
  logger.info('Bulk user action', { action: input.action, requested: ids.length, affected });
  return { action: input.action, requested: ids.length, affected, results };
}
