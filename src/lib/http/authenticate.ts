import type { Request, RequestHandler, Response } from 'express';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import { AppError, forbidden, normalizeError, unauthorized } from '../errors/index.js';
import { bearerToken, createAccessTokenVerifier, type AccessClaims } from '../jwt.js';
import { sqlFor } from '../sql.js';
import type { Role } from '../../generated/prisma/enums.js';

export interface AuthUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  isActive: boolean;
}

declare module 'express-serve-static-core' {
  interface Request {
    user?: AuthUser;
  }
}

/** Who may call a route. Every route names one; there is no default. */
export interface Access {
  kind: 'public' | 'user' | 'admin' | 'optional-user' | 'agent-or-admin' | 'metrics-token';
  handlers: RequestHandler[];
  /** Whether the OpenAPI document marks the route as needing a bearer token. */
  bearer: boolean;
  /**
   * The rest of an authentication the handlers leave to the route's own statement (agent tokens
   * are proven by the report's UPDATE). Runs before a validation error is answered, so a caller
   * that is not who it claims learns nothing about the input: it gets the 401 or 403.
   */
  confirm?: (req: Request, res: Response) => Promise<void>;
}

export interface Guards {
  public: Access;
  user: Access;
  admin: Access;
  /** Loads the user when a valid token is sent, and lets anonymous callers through. */
  optionalUser: Access;
  /** Resolves the user of a bearer access token, or throws 401. */
  resolveUser: (req: Request) => Promise<AuthUser>;
}

const USER_SQL = 'SELECT id, email, name, role, "isActive", "tokenVersion" FROM users WHERE id = $1::text';

export function createGuards({ db, config }: { db: Db; config: Pick<Config, 'jwt'> }): Guards {
  // Every authenticated request reads its user (deactivation and revocation take effect at once): one
  // prepared statement on the pool behind Prisma costs about half of the same read through Prisma.
  // Concurrent requests of one user share that read, which still starts after each of them arrived.
  const sql = sqlFor(db);
  const verifyToken = createAccessTokenVerifier(config.jwt);
  // Shared rows are read-only: resolveUser copies what it hands on.
  const findUser = async (id: string) => (await sql<AuthUser & { tokenVersion: number }>(USER_SQL, [id], { share: true }))[0];

  const resolveUser = async (req: Request): Promise<AuthUser> => {
    const token = bearerToken(req.get('authorization'));
    if (!token) throw unauthorized('Authentication required: send an access token as `Authorization: Bearer <token>`');
    let claims: AccessClaims;
    try {
      claims = verifyToken(token);
    } catch (err) {
      throw normalizeError(err);
    }
    const found = await findUser(claims.sub);
    if (!found) throw new AppError('INVALID_TOKEN', 'The account of this token no longer exists');
    const { tokenVersion, ...user } = found;
    if (!user.isActive) throw new AppError('UNAUTHORIZED', 'This account is deactivated');
    // A password change or reset, or a deactivation, raised the version: tokens signed before end.
    if (claims.ver !== tokenVersion) throw new AppError('INVALID_TOKEN', 'This token was revoked; sign in again');
    return user;
  };

  const authenticate: RequestHandler = async (req, _res, next) => {
    req.user = await resolveUser(req);
    next();
  };

  const requireAdmin: RequestHandler = (req, _res, next) => {
    if (req.user?.role !== 'ADMINISTRATOR') throw forbidden('Administrator access required');
    next();
  };

  const optional: RequestHandler = async (req, _res, next) => {
    if (req.get('authorization')) req.user = await resolveUser(req);
    next();
  };

  return {
    public: { kind: 'public', handlers: [], bearer: false },
    user: { kind: 'user', handlers: [authenticate], bearer: true },
    admin: { kind: 'admin', handlers: [authenticate, requireAdmin], bearer: true },
    optionalUser: { kind: 'optional-user', handlers: [optional], bearer: false },
    resolveUser,
  };
}
