import { describe, expect, it } from 'vitest';
import { createSnapshot } from '../../src/lib/batch.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const settle = async () => {
  for (let i = 0; i < 5; i++) await nextTurn();
};

/** A run the test ends by hand, and a clock it moves by hand. */
function harness(maxAgeMs: number) {
  let time = 1_000_000;
  const ends: { resolve: (n: number) => void; reject: (err: Error) => void }[] = [];
  const snapshot = createSnapshot(() => new Promise<number>((resolve, reject) => ends.push({ resolve, reject })), { maxAgeMs, now: () => time });
  return {
    snapshot,
    ends,
    advance: (ms: number) => {
      time += ms;
    },
  };
}

describe('createSnapshot', () => {
  it('makes the first caller wait for a run, then answers from it without a new run while it is young', async () => {
    const h = harness(2000);
    const first = h.snapshot();
    const second = h.snapshot();
    expect(h.ends).toHaveLength(1);
    h.ends[0]?.resolve(1);
    expect((await first).value).toBe(1);
    expect(await second).toBe(await first);
    h.advance(999);
    expect((await h.snapshot()).value).toBe(1);
    expect(h.ends).toHaveLength(1);
  });

  it('refreshes in the background once half the age is reached, answering the current result meanwhile', async () => {
    const h = harness(2000);
    const cold = h.snapshot();
    h.ends[0]?.resolve(1);
    const { computedAt } = await cold;
    h.advance(1000);
    expect((await h.snapshot()).value).toBe(1);
    expect((await h.snapshot()).value).toBe(1);
    expect(h.ends).toHaveLength(2); // one refresh, however many callers
    h.ends[1]?.resolve(2);
    await nextTurn();
    const refreshed = await h.snapshot();
    expect(refreshed.value).toBe(2);
    expect(refreshed.computedAt.getTime()).toBe(computedAt.getTime() + 1000);
  });

  it('makes a caller wait for a fresh run once the result is older than the limit', async () => {
    const h = harness(2000);
    const cold = h.snapshot();
    h.ends[0]?.resolve(1);
    await cold;
    h.advance(2000);
    const late = h.snapshot();
    expect(h.ends).toHaveLength(2);
    h.ends[1]?.resolve(2);
    expect((await late).value).toBe(2);
  });

  it('keeps the last result after a failed background refresh, and hands the failure to callers that need a fresh one', async () => {
    const h = harness(2000);
    const cold = h.snapshot();
    h.ends[0]?.resolve(1);
    await cold;
    h.advance(1500);
    expect((await h.snapshot()).value).toBe(1);
    h.ends[1]?.reject(new Error('database away'));
    await settle();
    expect((await h.snapshot()).value).toBe(1); // and a new background refresh
    h.advance(500);
    const late = h.snapshot(); // too old now: waits for that refresh
    expect(h.ends).toHaveLength(3);
    h.ends[2]?.reject(new Error('still away'));
    await expect(late).rejects.toThrow('still away');
  });

  it('with a limit of 0 gives every caller a run that started after it asked', async () => {
    const h = harness(0);
    const first = h.snapshot();
    await nextTurn();
    expect(h.ends).toHaveLength(1);
    const second = h.snapshot();
    h.ends[0]?.resolve(1);
    await settle();
    expect(h.ends).toHaveLength(2);
    h.ends[1]?.resolve(2);
    expect((await first).value).toBe(1);
    expect((await second).value).toBe(2);
  });
});
