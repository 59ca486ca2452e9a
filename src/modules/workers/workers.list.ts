import type { WorkerNode } from '../../generated/prisma/client.js';
import { paginate } from '../../lib/http/index.js';
import { containsPattern, pageWithTotal, type Sql } from '../../lib/sql.js';
import { heartbeatCutoff, toNodeDto, type Clock } from './workers.mapper.js';
import type { ListNodesQuery } from './workers.schemas.js';

const SEARCH_FIELDS = ['name', 'hostname', 'ipAddress', 'operatingSystem', 'architecture', 'cpuArchitecture'] as const;
// The searched columns joined by newlines: the expression of worker_nodes_search_trgm_idx, written
// exactly as the index has it (prisma/schema-extras.sql), so one trigram lookup serves the search.
const SEARCH_TEXT = `(${SEARCH_FIELDS.map((f) => `"${f}"`).join(` || E'\\n' || `)})`;

export type Liveness = 'online' | 'offline';

/** The WHERE clause and its parameters. Column names come from closed lists, values are always parameters. */
function whereOf(query: ListNodesQuery, clock: Clock, liveness: Liveness | undefined) {
  const values: unknown[] = [];
  const param = (value: unknown, cast: string) => `$${values.push(value)}::${cast}`;
  const conditions: string[] = [];
  if (query.status) conditions.push(`status = ${param(query.status, '"WorkerNodeStatus"')}`);
  if (query.isSchedulable !== undefined) conditions.push(`"isSchedulable" = ${param(query.isSchedulable, 'boolean')}`);
  if (query.isReady !== undefined) conditions.push(`"isReady" = ${param(query.isReady, 'boolean')}`);
  if (liveness) {
    // A timestamptz parameter read as UTC wall time, the way the column stores it, whatever the session's zone.
    const cutoff = `(${param(heartbeatCutoff(clock).toISOString(), 'timestamptz')} AT TIME ZONE 'UTC')`;
    // A node that never sent a heartbeat (NULL) is offline.
    conditions.push(liveness === 'online' ? `"lastHeartbeat" >= ${cutoff}` : `("lastHeartbeat" < ${cutoff} OR "lastHeartbeat" IS NULL)`);
  }
  if (query.search) {
    const pattern = param(containsPattern(query.search), 'text');
    // The joined text finds every node with a column that matches, and only a text with a newline
    // could match across two columns: the columns are checked one by one on those few rows.
    conditions.push(`${SEARCH_TEXT} ILIKE ${pattern}`, `(${SEARCH_FIELDS.map((f) => `"${f}" ILIKE ${pattern}`).join(' OR ')})`);
  }
  return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', values };
}

/** Nodes that never sent a heartbeat sort as the oldest: last when newest come first, first otherwise. */
const nullsAsOldest = (sortBy: ListNodesQuery['sortBy'], order: 'ASC' | 'DESC') => (sortBy !== 'lastHeartbeat' ? '' : order === 'DESC' ? ' NULLS LAST' : ' NULLS FIRST');

/**
 * A page of nodes and the total, in one statement. The sort column is one of the schema's
 * SORT_FIELDS, and id breaks ties so pages never repeat or skip nodes with equal values.
 */
export async function listNodes(sql: Sql, query: ListNodesQuery, clock: Clock, liveness?: Liveness) {
  const { where, values } = whereOf(query, clock, liveness);
  const order = query.sortOrder === 'asc' ? 'ASC' : 'DESC';
  const { rows, total } = await pageWithTotal<WorkerNode>(sql, {
    from: 'worker_nodes',
    where,
    values,
    columns: '*',
    orderBy: `"${query.sortBy}" ${order}${nullsAsOldest(query.sortBy, order)}, id ${order}`,
    limit: query.limit,
    offset: (query.page - 1) * query.limit,
    search: query.search,
  });
  return { workers: rows.map((n) => toNodeDto(n, clock)), pagination: paginate(query.page, query.limit, total) };
}
