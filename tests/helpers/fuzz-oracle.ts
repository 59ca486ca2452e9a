import type { Db } from '../../src/lib/db.js';

export interface ResponseLike {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const SENSITIVE_KEY = /^(password|passwordHash|tokenHash|agentTokenHash|refreshTokenHash|secretSealed|previousSecretSealed|credentialsEncrypted|idempotencyKey|serverKey)$/i;
const USER_MAPS = new Set(['environmentVars', 'labels']);
const BCRYPT = /\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}/;

/** Keys and values that must never leave the API: password and token hashes, stack traces. */
export function sensitiveLeaks(text: string, secrets: Iterable<string> = []): string[] {
  const found: string[] = [];
  if (BCRYPT.test(text)) found.push('a bcrypt hash');
  if (/\bat .+\.(ts|js):\d+:\d+/.test(text)) found.push('a stack trace');
  for (const secret of secrets) if (secret && text.includes(secret)) found.push(`the stored secret ${secret.slice(0, 12)}…`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return found;
  }
  // The OpenAPI document names request fields such as `password` by design.
  if (body && typeof body === 'object' && 'openapi' in body) return found;
  const stack: unknown[] = [body];
  for (let v = stack.pop(); v !== undefined; v = stack.pop()) {
    if (!v || typeof v !== 'object') continue;
    for (const [k, child] of Object.entries(v)) {
      if (SENSITIVE_KEY.test(k)) found.push(`the key ${k}`);
      // Maps whose keys the client chose (an environment variable may well be called PASSWORD).
      if (!USER_MAPS.has(k)) stack.push(child);
    }
  }
  return found;
}

/** What is wrong with a response by the contract's rules: any 5xx, and any 4xx or 2xx outside the envelope. */
export function envelopeProblems(res: ResponseLike): string[] {
  if (res.status >= 500) return [`answered ${res.status}: ${res.text.slice(0, 300)}`];
  if (res.status < 200 || res.status >= 500) return [`unexpected status ${res.status}`];
  const type = String(res.headers['content-type'] ?? '');
  if (!type.includes('application/json')) return res.status >= 400 ? [`a ${res.status} that is not JSON (${type})`] : [];
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(res.text) as Record<string, unknown>;
  } catch {
    return [`unparseable JSON body: ${res.text.slice(0, 200)}`];
  }
  if (res.status < 300 && 'openapi' in body) return [];
  const problems: string[] = [];
  if (body.statusCode !== res.status) problems.push(`statusCode ${String(body.statusCode)} differs from HTTP ${res.status}`);
  if (typeof body.message !== 'string') problems.push('no message');
  if (typeof body.timestamp !== 'string') problems.push('no timestamp');
  if (res.status >= 400) {
    if (body.success !== false) problems.push('success is not false');
    if (typeof body.code !== 'string') problems.push('no code');
    if (typeof body.requestId !== 'string') problems.push('no requestId');
    if ('stack' in body) problems.push('a stack property');
  } else if (body.success !== true) {
    problems.push('success is not true');
  }
  return problems;
}

/**
 * Secrets as stored: bcrypt hashes, token hashes, webhook signing secrets and instance credentials
 * as sealed, to check that no response ever carries one.
 */
export async function storedSecrets(db: Db): Promise<string[]> {
  const [users, tokens, accountTokens, nodes, webhooks, instances] = await Promise.all([
    db.user.findMany({ select: { password: true } }),
    db.refreshToken.findMany({ select: { tokenHash: true } }),
    db.accountToken.findMany({ select: { tokenHash: true } }),
    db.workerNode.findMany({ select: { agentTokenHash: true } }),
    db.webhook.findMany({ select: { secretSealed: true, previousSecretSealed: true } }),
    db.serviceInstance.findMany({ select: { credentialsEncrypted: true } }),
  ]);
  return [
    ...users.map((u) => u.password),
    ...tokens.map((t) => t.tokenHash),
    ...accountTokens.map((t) => t.tokenHash),
    ...nodes.map((n) => n.agentTokenHash ?? ''),
    ...webhooks.flatMap((w) => [w.secretSealed, w.previousSecretSealed ?? '']),
    ...instances.map((i) => i.credentialsEncrypted ?? ''),
  ].filter(Boolean);
}

let tables: string[] | undefined;

/**
 * Row count and md5 of every table's rows, in a stable order, for every application table (new
 * tables are picked up by themselves). Two equal snapshots mean nothing was written.
 */
export async function snapshotTables(db: Db): Promise<Record<string, string>> {
  tables ??= (await db.$queryRaw<{ t: string }[]>`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY 1`).map((r) => r.t);
  const sql = tables.map((t) => `SELECT '${t}' AS t, count(*)::int AS n, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) AS h FROM "${t}" x`).join(' UNION ALL ');
  const rows = await db.$queryRawUnsafe<{ t: string; n: number; h: string }[]>(sql);
  return Object.fromEntries(rows.map((r) => [r.t, `${r.n} rows, md5 ${r.h}`]));
}
