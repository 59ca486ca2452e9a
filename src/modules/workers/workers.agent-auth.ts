import { createHash, randomBytes } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { DbClient } from '../../lib/db.js';
import { forbidden, invalidToken, unauthorized } from '../../lib/errors/index.js';
import type { Access, Guards } from '../../lib/http/index.js';
import { bearerToken } from '../../lib/jwt.js';

/**
 * Node agents authenticate with an opaque bearer token, `mpn_` + 32 random bytes (base64url).
 * Only its SHA-256 is stored: the token has 256 bits of entropy, so a fast hash is enough and
 * lets the heartbeat find the node by an index lookup on the hash inside its one UPDATE.
 */
export const AGENT_TOKEN_PREFIX = 'mpn_';
const AGENT_TOKEN_FORMAT = /^mpn_[A-Za-z0-9_-]{43}$/;

export const hashAgentToken = (token: string) => createHash('sha256').update(token).digest('hex');

export function newAgentToken(): { token: string; hash: string } {
  const token = AGENT_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: hashAgentToken(token) };
}

/** Who is reporting for a node. An agent is only proven to own the node by the SQL that uses its hash. */
export type ReportCaller = { kind: 'agent'; tokenHash: string } | { kind: 'admin' };

const CALLER = 'workerReportCaller';

/** 401 when no node has the agent's token, 403 when the node in the path (id or name) is another. */
export function assertAgentOf(tokenNode: { id: string; name: string } | undefined | null, ref: string): void {
  if (!tokenNode) throw invalidToken('Invalid agent token');
  if (tokenNode.id !== ref && tokenNode.name !== ref) throw forbidden('This agent token belongs to another worker node');
}

export function reportCaller(res: Response): ReportCaller {
  const caller = res.locals[CALLER] as ReportCaller | undefined;
  if (!caller) throw unauthorized();
  return caller;
}

/**
 * Access for heartbeat and resource reports: a node agent token, or an administrator access
 * token. Agent tokens are not JWTs, so every other route's guard rejects them with 401. This
 * guard only checks the token's shape; whether it belongs to the node in the path is decided
 * by the report's own SQL statement, so a heartbeat costs one round trip to the database. Only a
 * report that fails validation pays for a separate check (`confirm`), so that a bogus token gets
 * 401, not the validation details.
 */
export function agentOrAdminAccess(guards: Guards, db: DbClient): Access {
  const handler: RequestHandler = async (req, res, next) => {
    const token = bearerToken(req.get('authorization'));
    if (!token) throw unauthorized('Authentication required: send the node agent token (or an administrator access token) as `Authorization: Bearer <token>`');
    if (token.startsWith(AGENT_TOKEN_PREFIX)) {
      if (!AGENT_TOKEN_FORMAT.test(token)) throw invalidToken('Invalid agent token');
      res.locals[CALLER] = { kind: 'agent', tokenHash: hashAgentToken(token) } satisfies ReportCaller;
    } else {
      const user = await guards.resolveUser(req);
      if (user.role !== 'ADMINISTRATOR') throw forbidden("Only the node's agent token or an administrator may report for a worker node");
      req.user = user;
      res.locals[CALLER] = { kind: 'admin' } satisfies ReportCaller;
    }
    next();
  };
  const confirm = async (req: Request, res: Response) => {
    const caller = reportCaller(res);
    if (caller.kind !== 'agent') return;
    assertAgentOf(await db.workerNode.findUnique({ where: { agentTokenHash: caller.tokenHash }, select: { id: true, name: true } }), String(req.params.nodeId));
  };
  return { kind: 'agent-or-admin', handlers: [handler], bearer: true, confirm };
}
