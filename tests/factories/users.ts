import bcrypt from 'bcrypt';
import type { Config } from '../../src/lib/config.js';
import type { Db } from '../../src/lib/db.js';
import { signAccessToken } from '../../src/lib/jwt.js';
import type { Role } from '../../src/generated/prisma/enums.js';
import { unique } from './unique.js';

export const DEFAULT_PASSWORD = 'Passw0rd!ok';

export interface UserOverrides {
  name?: string;
  email?: string;
  password?: string;
  role?: Role;
  isActive?: boolean;
}

/** Creates a user directly in the database and returns it with its password and a valid access token. */
export async function createUser(db: Db, config: Readonly<Config>, overrides: UserOverrides = {}) {
  const password = overrides.password ?? DEFAULT_PASSWORD;
  const user = await db.user.create({
    data: {
      name: overrides.name ?? 'Test User',
      email: (overrides.email ?? `${unique('user')}@example.test`).toLowerCase(),
      password: await bcrypt.hash(password, 4),
      role: overrides.role ?? 'USER',
      isActive: overrides.isActive ?? true,
    },
  });
  const { accessToken } = signAccessToken(config.jwt, user.id);
  return { user, password, token: accessToken, auth: `Bearer ${accessToken}` };
}

export const createAdmin = (db: Db, config: Readonly<Config>, overrides: UserOverrides = {}) => createUser(db, config, { ...overrides, role: 'ADMINISTRATOR' });
