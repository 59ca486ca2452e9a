export interface BatcherOptions<I, R> {
  /** Most items one run carries. */
  maxBatch: number;
  /** Runs allowed at once; items that arrive meanwhile wait and go together in the next run. */
  maxInFlight: number;
  /**
   * Items with the same key never share a run, and never run while an earlier one with that key
   * is in flight: each run sees a key once, and items of one key apply in the order they came.
   */
  keyOf: (item: I) => string;
  /** Runs one batch; resolves with a result per key (a missing key: nothing matched that item). */
  run: (items: I[]) => Promise<Map<string, R>>;
}

export interface Batcher<I, R> {
  /** Resolves once the run carrying the item has completed, with that item's own result. */
  submit: (item: I) => Promise<R | undefined>;
  /** Items waiting or in flight. */
  pending: () => number;
}

interface Entry<I, R> {
  item: I;
  key: string;
  resolve: (result: R | undefined) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for many small, independent statements: while runs are in flight, new items queue
 * and then leave together, so under load one statement (and one commit) serves many callers and
 * when idle an item leaves at once (after the current turn of the event loop, so that requests
 * read in the same turn share a run). Nothing is answered before its run has completed.
 */
export function createBatcher<I, R>({ maxBatch, maxInFlight, keyOf, run }: BatcherOptions<I, R>): Batcher<I, R> {
  let queue: Entry<I, R>[] = [];
  const busy = new Set<string>();
  let inFlight = 0;
  let scheduled = false;

  const take = (): Entry<I, R>[] => {
    const batch: Entry<I, R>[] = [];
    const rest: Entry<I, R>[] = [];
    const taken = new Set<string>();
    for (const entry of queue) {
      if (batch.length < maxBatch && !busy.has(entry.key) && !taken.has(entry.key)) {
        taken.add(entry.key);
        batch.push(entry);
      } else {
        rest.push(entry);
      }
    }
    queue = rest;
    return batch;
  };

  const flush = () => {
    scheduled = false;
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = take();
      if (batch.length === 0) return; // every waiting key is in flight: its run's completion flushes again
      inFlight++;
      for (const e of batch) busy.add(e.key);
      run(batch.map((e) => e.item))
        .then(
          (results) => {
            for (const e of batch) e.resolve(results.get(e.key));
          },
          (err: unknown) => {
            for (const e of batch) e.reject(err);
          },
        )
        .finally(() => {
          inFlight--;
          for (const e of batch) busy.delete(e.key);
          flush();
        });
    }
  };

  return {
    submit: (item) =>
      new Promise<R | undefined>((resolve, reject) => {
        queue.push({ item, key: keyOf(item), resolve, reject });
        if (!scheduled && inFlight < maxInFlight) {
          scheduled = true;
          setImmediate(flush);
        }
      }),
    pending: () => queue.length + busy.size,
  };
}

/**
 * Request coalescing for an expensive read with no parameters. The callers of one turn of the
 * event loop share one run, which starts right after that turn, so after every one of them
 * called: a caller never takes the result of a run that started before it asked. Up to
 * `maxInFlight` runs may overlap; callers that arrive while that many are in flight share the
 * next run, which starts as soon as one of them ends, so however many callers wait, at most one
 * run is queued.
 */
export function createCoalescer<R>(run: () => Promise<R>, { maxInFlight = 1 }: { maxInFlight?: number } = {}): () => Promise<R> {
  let inFlight = 0;
  // The run the next callers share: not started yet, and scheduled once a slot is free.
  let waiting: { promise: Promise<R>; resolve: (r: R | Promise<R>) => void; scheduled: boolean } | undefined;

  const launch = () => {
    const shared = waiting;
    if (!shared) return;
    waiting = undefined;
    inFlight++;
    let result: Promise<R>;
    try {
      result = run();
    } catch (err) {
      result = Promise.reject(err);
    }
    shared.resolve(result);
    result
      .catch(() => undefined)
      .finally(() => {
        inFlight--;
        // Callers that arrived while every slot was taken.
        if (waiting && !waiting.scheduled) {
          waiting.scheduled = true;
          setImmediate(launch);
        }
      });
  };

  return () => {
    if (!waiting) {
      let resolve!: (r: R | Promise<R>) => void;
      const promise = new Promise<R>((res) => {
        resolve = res;
      });
      waiting = { promise, resolve, scheduled: false };
      if (inFlight < maxInFlight) {
        waiting.scheduled = true;
        setImmediate(launch);
      }
    }
    return waiting.promise;
  };
}

/**
 * The calls of one turn of the event loop (the requests read from the sockets together), grouped
 * by key. Right after that turn, so after every one of them was made, `run` receives each key's
 * items in call order and returns one result per item. A later call starts a new turn: nobody
 * joins a run that has started.
 */
export function createTurnGroups<I, R>(run: (key: string, items: I[]) => Promise<R>[]): (key: string, item: I) => Promise<R> {
  let turn: Map<string, { items: I[]; settle: { resolve: (r: R) => void; reject: (err: unknown) => void }[] }> | undefined;
  const flush = () => {
    const groups = turn ?? new Map();
    turn = undefined;
    for (const [key, group] of groups) {
      let results: Promise<R>[];
      try {
        results = run(key, group.items);
      } catch (err) {
        results = group.items.map(() => Promise.reject(err));
      }
      results.forEach((result, i) => result.then(group.settle[i]?.resolve, group.settle[i]?.reject));
    }
  };
  return (key, item) =>
    new Promise<R>((resolve, reject) => {
      if (!turn) {
        turn = new Map();
        setImmediate(flush);
      }
      let group = turn.get(key);
      if (!group) turn.set(key, (group = { items: [], settle: [] }));
      group.items.push(item);
      group.settle.push({ resolve, reject });
    });
}

/**
 * Coalescing for cheap reads with parameters: calls with the same key made in one turn of the
 * event loop share one run (the first caller's), which starts right after that turn. Runs of one
 * key may overlap: unlike createCoalescer, nobody waits for a run already in flight. Callers of
 * one run get the same result object: they must treat it as read-only.
 */
export function createSharedRuns<R>(): (key: string, run: () => Promise<R>) => Promise<R> {
  return createTurnGroups<() => Promise<R>, R>((_key, runs) => {
    const shared = new Promise<R>((resolve) => resolve((runs[0] as () => Promise<R>)()));
    return runs.map(() => shared);
  });
}

export interface Snapshot<R> {
  value: R;
  /** When the run that computed it started. */
  computedAt: Date;
}

/**
 * A result shared by every caller for up to `maxAgeMs`, for an aggregate whose cost grows with
 * the data while its callers only need it recent. A caller gets the latest result while it is
 * younger than `maxAgeMs`; once it is half that age, one run refreshes it in the background, so
 * under steady load nobody waits and the database runs it at most about every `maxAgeMs / 2`,
 * however many callers there are. Only the first caller, or one after a quiet spell longer than
 * `maxAgeMs`, waits for a run. `maxAgeMs` 0: every caller gets a run started after it asked
 * (createCoalescer).
 */
export function createSnapshot<R>(run: () => Promise<R>, { maxAgeMs, now = Date.now }: { maxAgeMs: number; now?: () => number }): () => Promise<Snapshot<R>> {
  const timed = async (): Promise<Snapshot<R>> => {
    const computedAt = new Date(now());
    return { value: await run(), computedAt };
  };
  if (maxAgeMs <= 0) return createCoalescer(timed);
  let latest: Snapshot<R> | undefined;
  let refreshing: Promise<Snapshot<R>> | undefined;
  const refresh = () => {
    refreshing ??= timed()
      .then((snap) => {
        if (!latest || snap.computedAt >= latest.computedAt) latest = snap;
        return snap;
      })
      .finally(() => {
        refreshing = undefined;
      });
    return refreshing;
  };
  return async () => {
    const age = latest ? now() - latest.computedAt.getTime() : Infinity;
    if (!latest || age >= maxAgeMs) return refresh();
    // A failed background refresh is left to the caller that next needs a fresh result.
    if (age >= maxAgeMs / 2) refresh().catch(() => undefined);
    return latest;
  };
}
