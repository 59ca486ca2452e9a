import http from 'node:http';
import fc from 'fast-check';
import { schemaArbitraries, type OpenApiDoc, type Schema } from './fuzz-schema.js';
import { deepJson, hostileJson, hostileKey, hostileString, hugeJson, malformedJsonText, toJsonText } from './fuzz-values.js';

export interface Operation {
  method: string;
  /** OpenAPI path, e.g. /api/v1/users/{id} */
  path: string;
  pathParams: string[];
  query: { name: string; schema: Schema }[];
  body?: Schema;
  /** public: no security; optional: anonymous or bearer; bearer: a token is required. */
  security: 'public' | 'optional' | 'bearer';
  /** Documents 403, i.e. callers other than administrators (or the node's agent) are refused. */
  documents403: boolean;
}

interface RawOperation {
  parameters?: { name: string; in: string; schema: Schema }[];
  requestBody?: { content: { 'application/json': { schema: Schema } } };
  security?: Record<string, unknown>[];
  responses: Record<string, unknown>;
}

/** Every operation of the OpenAPI document, so routes added later are fuzzed without touching the tests. */
export function listOperations(doc: OpenApiDoc): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops as Record<string, RawOperation>).map(([method, op]) => {
      const params = op.parameters ?? [];
      const security = op.security ?? [];
      return {
        method,
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema })),
        body: op.requestBody?.content['application/json'].schema,
        security: security.length === 0 ? 'public' : security.some((s) => Object.keys(s).length === 0) ? 'optional' : 'bearer',
        documents403: '403' in op.responses,
      } satisfies Operation;
    }),
  );
}

export type AuthKind = 'admin' | 'user' | 'agent' | 'none' | 'garbage';
export type PathValue = { real: number } | { hostile: string; encoded: boolean };

/** A request described symbolically: real ids and tokens are looked up when it is sent, as rows come and go. */
export interface RequestPlan {
  auth: AuthKind;
  garbageToken: string;
  pathValues: PathValue[];
  query: [string, string, boolean][];
  contentType: string;
  contentEncoding?: string;
  body?: string;
}

const MALFORMED_PERCENT = ['%', '%zz', '%E0%A4%A', '%ED%A0%80', '%FF%FE', '%C0%AF', '..%2F..%2F', '%2e%2e'];

/** Percent-encodes the UTF-8 bytes of a string; a lone surrogate becomes U+FFFD, as in any real client. */
export const percentEncode = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

export function requestPlanArbitrary(doc: OpenApiDoc, op: Operation): fc.Arbitrary<RequestPlan> {
  const schemas = schemaArbitraries(doc);
  const pathValue: fc.Arbitrary<PathValue> = fc.oneof(
    { weight: op.body ? 6 : 4, arbitrary: fc.nat().map((real) => ({ real })) },
    { weight: 4, arbitrary: fc.oneof(hostileString, fc.string({ minLength: 250, maxLength: 400 })).map((hostile) => ({ hostile, encoded: true })) },
    { weight: 1, arbitrary: fc.constantFrom(...MALFORMED_PERCENT).map((hostile) => ({ hostile, encoded: false })) },
  );
  const documented = op.query.map(({ name, schema }) =>
    fc.oneof(
      { weight: 4, arbitrary: fc.constant([] as [string, string, boolean][]) },
      { weight: 2, arbitrary: schemas.plausible(schema).map((v) => [[name, String(v), true]] as [string, string, boolean][]) },
      { weight: 3, arbitrary: hostileString.map((v) => [[name, v, true]] as [string, string, boolean][]) },
      { weight: 1, arbitrary: fc.tuple(hostileString, hostileString).map(([a, b]) => [[name, a, true], [name, b, true]] as [string, string, boolean][]) },
    ),
  );
  const extraQuery = fc.oneof(
    { weight: 4, arbitrary: fc.constant([] as [string, string, boolean][]) },
    { weight: 1, arbitrary: fc.array(fc.tuple(hostileKey, hostileString, fc.constant(true)), { minLength: 1, maxLength: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom<[string, string, boolean][]>([['constructor[prototype][polluted]', '1', false]], [['__proto__[polluted]', '1', false]], [['search', '%FF%FE', false]], [['page[$gt]', '0', false]]) },
  );
  const bodyText: fc.Arbitrary<string | undefined> = op.body
    ? fc.oneof(
        { weight: 10, arbitrary: schemas.mutated(op.body).map(toJsonText) },
        { weight: 4, arbitrary: schemas.plausible(op.body).map(toJsonText) },
        { weight: 3, arbitrary: hostileJson.map(toJsonText) },
        { weight: 1, arbitrary: hugeJson.map(toJsonText) },
        { weight: 1, arbitrary: deepJson },
        { weight: 2, arbitrary: malformedJsonText },
      )
    : fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: hostileJson.map(toJsonText) }, { weight: 1, arbitrary: hugeJson.map(toJsonText) }, { weight: 1, arbitrary: malformedJsonText });
  return fc.record({
    auth: fc.constantFrom<AuthKind>('admin', 'admin', 'admin', 'admin', 'admin', 'admin', 'user', 'agent', 'none', 'garbage'),
    garbageToken: fc.constantFrom('x', 'Bearer', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'mpn_short', `mpn_${'A'.repeat(43)}`, 'a'.repeat(5000), 'caf\u00e9\u00ff', 'null'),
    pathValues: fc.tuple(...op.pathParams.map(() => pathValue)),
    query: fc.tuple(fc.tuple(...documented), extraQuery).map(([d, e]) => [...d.flat(), ...e]),
    contentType: fc.oneof(
      { weight: 12, arbitrary: fc.constant('application/json') },
      { weight: 1, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'application/vnd.api+json') },
    ),
    contentEncoding: fc.oneof({ weight: 20, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown') }),
    body: bodyText,
  });
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** One HTTP request with a hard client timeout: a hang is reported as an error, never waited out. */
export function sendRaw(
  base: string,
  req: { method: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
  timeoutMs = 10_000,
  via: http.Agent = agent,
): Promise<HttpResult> {
  const url = new URL(base);
  const started = Date.now();
  // Node's client frames no body of a GET or DELETE by itself; unframed bytes would be read as the next request.
  const headers = req.body === undefined ? req.headers : { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) };
  return new Promise((resolve, reject) => {
    const r = http.request({ host: url.hostname, port: url.port, method: req.method.toUpperCase(), path: req.path, headers, agent: via }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - started }));
      res.on('error', reject);
    });
    r.setTimeout(timeoutMs, () => r.destroy(new Error(`client timeout after ${timeoutMs} ms: ${req.method} ${req.path.slice(0, 120)}`)));
    r.on('error', reject);
    r.end(req.body);
  });
}
