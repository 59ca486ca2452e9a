import fs from 'node:fs';
import os from 'node:os';

/**
 * Lowers the CPU priority of every thread of this process except the main one: libuv's pool
 * (where bcrypt hashes), V8's garbage-collector helpers. Under a login storm the pool would
 * otherwise share the cores evenly with the event loop, and every other request would wait its
 * turn behind a hash; with a lower priority those threads still use all idle CPU, but the event
 * loop runs first. Linux only (a thread id is a valid target of setpriority there); call it once
 * the pool has started. Returns how many threads were changed.
 */
export function lowerHelperThreadPriority(nice: number): number {
  if (process.platform !== 'linux' || nice === 0) return 0;
  let changed = 0;
  for (const entry of fs.readdirSync('/proc/self/task')) {
    const tid = Number(entry);
    if (tid === process.pid) continue; // the main thread's id is the process id
    try {
      os.setPriority(tid, nice);
      changed++;
    } catch {
      // The thread ended meanwhile, or the system refuses: its priority stays as it was.
    }
  }
  return changed;
}
