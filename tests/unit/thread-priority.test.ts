import fs from 'node:fs';
import { promisify } from 'node:util';
import { pbkdf2 } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { lowerHelperThreadPriority } from '../../src/lib/thread-priority.js';

/** The nice value of each thread of this process, from /proc (field 19 of stat). */
function niceByThread(): Map<number, number> {
  const result = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc/self/task')) {
    const stat = fs.readFileSync(`/proc/self/task/${entry}/stat`, 'utf8');
    // The command name may hold spaces: count the fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    result.set(Number(entry), Number(fields[16]));
  }
  return result;
}

describe.runIf(process.platform === 'linux')('lowerHelperThreadPriority', () => {
  it('lowers every thread but the main one, which keeps its priority', async () => {
    await promisify(pbkdf2)('x', 'salt', 1, 32, 'sha256'); // starts libuv's pool
    const before = niceByThread();
    const changed = lowerHelperThreadPriority(7);
    const after = niceByThread();
    expect(changed).toBeGreaterThanOrEqual(4); // at least the four pool threads
    expect(after.get(process.pid)).toBe(before.get(process.pid));
    for (const [tid, nice] of after) if (tid !== process.pid && before.has(tid)) expect(nice).toBe(7);
  });

  it('changes nothing when the level is 0', () => {
    expect(lowerHelperThreadPriority(0)).toBe(0);
  });
});
