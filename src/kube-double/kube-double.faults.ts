/** One injected fault: applies to the next `times` requests that match `method` and `path`. */
export interface FaultSpec {
  /** Answer with this status (429, 500, 503, 504...) as a Kubernetes Status. */
  status?: number;
  /** Sent as the Retry-After header and details.retryAfterSeconds. */
  retryAfterSeconds?: number;
  /** Wait this long before answering (or before failing, with status/reset). */
  latencyMs?: number;
  /** Reset the TCP connection instead of answering. */
  reset?: boolean;
  /** How many requests it applies to (default 1). */
  times?: number;
  /** Only requests with this method (GET, PATCH...). */
  method?: string;
  /** Only requests whose path contains this string, or matches this expression. */
  path?: string | RegExp;
}

export interface RequestRecord {
  at: Date;
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  fieldManager?: string;
  force?: boolean;
  body?: unknown;
  /** HTTP status answered; 0 for a reset connection. */
  status: number;
  fault?: 'status' | 'reset' | 'latency';
}

export function createFaults() {
  let queue: (FaultSpec & { left: number })[] = [];
  return {
    inject(spec: FaultSpec) {
      queue.push({ ...spec, left: spec.times ?? 1 });
    },
    clear() {
      queue = [];
    },
    /** How many injected requests are still to come. */
    pending: () => queue.reduce((n, f) => n + f.left, 0),
    take(method: string, path: string): FaultSpec | undefined {
      const f = queue.find(
        (x) =>
          x.left > 0 &&
          (!x.method || x.method.toUpperCase() === method) &&
          (x.path === undefined || (typeof x.path === 'string' ? path.includes(x.path) : x.path.test(path))),
      );
      if (!f) return undefined;
      f.left -= 1;
      queue = queue.filter((x) => x.left > 0);
      return f;
    },
  };
}

export function createRequestLog(limit: number) {
  let records: RequestRecord[] = [];
  const matches = (r: RequestRecord, filter: { method?: string; path?: string | RegExp } = {}) =>
    (!filter.method || r.method === filter.method.toUpperCase()) &&
    (filter.path === undefined || (typeof filter.path === 'string' ? r.path.includes(filter.path) : filter.path.test(r.path)));
  return {
    add(r: RequestRecord) {
      records.push(r);
      if (records.length > limit) records = records.slice(-limit);
    },
    list: (filter?: { method?: string; path?: string | RegExp }) => records.filter((r) => matches(r, filter)),
    count: (filter?: { method?: string; path?: string | RegExp }) => records.filter((r) => matches(r, filter)).length,
    clear() {
      records = [];
    },
  };
}

export type Faults = ReturnType<typeof createFaults>;
export type RequestLog = ReturnType<typeof createRequestLog>;
