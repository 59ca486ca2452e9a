// One measurement in a child process of its own (so that the bench's own event loop never shares
// a process with what it measures): the parent sends a spec, the child answers one result.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

type Answer<R> = { ok: true; result: R } | { ok: false; error: string };

/** Forks `moduleUrl` (a module that calls serveInChild) with `spec` and resolves with its result. */
export function runInChild<S, R>(moduleUrl: string, spec: S, label: string): Promise<R> {
  return new Promise((resolve, reject) => {
    // Inherits the parent's execArgv, so the TypeScript loader of `tsx` applies to the child too.
    const child = fork(fileURLToPath(moduleUrl), ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let answered = false;
    child.once('message', (msg: Answer<R>) => {
      answered = true;
      if (msg.ok) resolve(msg.result);
      else reject(new Error(msg.error));
    });
    child.once('exit', (code) => {
      if (!answered) reject(new Error(`${label} exited with ${code} before reporting`));
    });
    child.send(spec as object);
  });
}

/** In the child started by runInChild: runs `work` on the spec, answers, and exits. */
export function serveInChild<S, R>(work: (spec: S) => Promise<R>): void {
  if (!process.argv.includes('--child')) return;
  process.once('message', (spec: S) => {
    work(spec).then(
      (result) => process.send?.({ ok: true, result } satisfies Answer<R>, () => process.exit(0)),
      (err: unknown) => process.send?.({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies Answer<R>, () => process.exit(1)),
    );
  });
}
