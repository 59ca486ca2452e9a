import bcrypt from 'bcrypt';
import type { DbClient } from '../../src/lib/db.js';
import type { Role } from '../../src/generated/prisma/enums.js';

export const SEED_ACCOUNTS: readonly { name: string; email: string; password: string; role: Role }[] = [
  { name: 'Administrator', email: 'admin@paas.com', password: 'Admin123!@#', role: 'ADMINISTRATOR' },
  { name: 'Regular User', email: 'user@paas.com', password: 'User123!@#', role: 'USER' },
  { name: 'Test Customer', email: 'customer@test.com', password: 'Customer123!@#', role: 'USER' },
];

/** Creates the seeded accounts that are missing; existing ones are left exactly as they are. */
export async function seedUsers(db: DbClient, bcryptCost: number): Promise<number> {
  const existing = new Set((await db.user.findMany({ where: { email: { in: SEED_ACCOUNTS.map((a) => a.email) } }, select: { email: true } })).map((u) => u.email));
  const missing = SEED_ACCOUNTS.filter((a) => !existing.has(a.email));
  // Demo accounts count as verified: their addresses are not real mailboxes.
  const emailVerifiedAt = new Date();
  const rows = await Promise.all(missing.map(async (a) => ({ name: a.name, email: a.email, role: a.role, emailVerifiedAt, password: await bcrypt.hash(a.password, bcryptCost) })));
  if (rows.length > 0) await db.user.createMany({ data: rows, skipDuplicates: true });
  return rows.length;
}
