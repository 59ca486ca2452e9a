import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * PostgreSQL refuses to run as root, so as root the embedded server runs as the `postgres` system
 * user. That user must be able to reach the binaries and the data directory: a project under a
 * directory other users cannot enter (/root/app, anything made by `mktemp -d`) is out of its
 * reach. Then it gets a copy of the binaries and a data directory of its own under `stateDir`,
 * and the data directory asked for becomes a symbolic link to it.
 */

export const DEFAULT_STATE_DIR = '/var/lib/minispod';
const USER = 'postgres';

/** A problem the operator has to solve; its message is one line that says what to change. */
export class EmbeddedPostgresError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedPostgresError';
  }
}

export interface RunAs {
  uid: number;
  gid: number;
}

const WAYS_OUT = 'run it as a regular user, move the project to a directory other users can enter, or set DATABASE_URL';
const reason = (err: unknown) => (err instanceof Error ? err.message.split('\n')[0] : String(err));

function idsOf(name: string): RunAs | undefined {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return undefined;
  }
}

/** The user the server runs as: undefined unless this process is root (then `postgres`, created if missing). */
export function postgresUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const existing = idsOf(USER);
  if (existing) return existing;
  try {
    // groupadd fails when the group exists already (exit code 9); useradd then reports the real problem.
    spawnSync('groupadd', ['--system', USER], { stdio: 'ignore' });
    execFileSync('useradd', ['--system', '--gid', USER, '--no-create-home', '--shell', '/usr/sbin/nologin', USER], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new EmbeddedPostgresError(`As root, the embedded PostgreSQL must run as the system user "${USER}", which could not be created (${reason(err)}): create it (useradd --system ${USER}), ${WAYS_OUT}`);
  }
  const created = idsOf(USER);
  if (!created) throw new EmbeddedPostgresError(`The system user "${USER}" was created but cannot be found: ${WAYS_OUT}`);
  return created;
}

/** Whether the user can enter the directory: every directory on its path must let it through. */
export function canEnter(user: RunAs, dir: string): boolean {
  return spawnSync('/bin/sh', ['-c', 'cd -- "$1"', 'sh', dir], { ...user, stdio: 'ignore' }).status === 0;
}

const runsAs = (user: RunAs, root: string) => spawnSync(path.join(root, 'bin', 'postgres'), ['--version'], { ...user, stdio: 'ignore' }).status === 0;

function stateDirFor(user: RunAs, stateDir: string, what: string): void {
  try {
    fs.mkdirSync(stateDir, { recursive: true });
    fs.chmodSync(stateDir, 0o755);
  } catch (err) {
    throw new EmbeddedPostgresError(`The system user "${USER}" cannot reach ${what}, and ${stateDir} could not be made for a copy (${reason(err)}): ${WAYS_OUT}`);
  }
  if (!canEnter(user, stateDir)) throw new EmbeddedPostgresError(`The system user "${USER}" cannot reach ${what}, nor ${stateDir} where a copy would go: ${WAYS_OUT}`);
}

/**
 * The directory holding bin/, lib/ and share/ that the user can run: `root` itself, or a copy
 * under the state directory, one per version, shared by every project on the machine.
 */
export function reachableBinaries(user: RunAs, root: string, version: string, stateDir: string): string {
  if (runsAs(user, root)) return root;
  stateDirFor(user, stateDir, root);
  const copy = path.join(stateDir, `postgres-${version}-${os.platform()}-${os.arch()}`);
  if (!fs.existsSync(copy)) {
    // Copied aside and renamed into place, so a concurrent start never sees half a copy.
    const partial = fs.mkdtempSync(path.join(stateDir, '.copy-'));
    try {
      fs.cpSync(root, partial, { recursive: true, verbatimSymlinks: true });
      fs.chmodSync(partial, 0o755);
      fs.renameSync(partial, copy);
    } catch (err) {
      fs.rmSync(partial, { recursive: true, force: true });
      if (!fs.existsSync(copy)) throw new EmbeddedPostgresError(`The binaries of the embedded PostgreSQL could not be copied to ${copy} (${reason(err)}): ${WAYS_OUT}`);
    }
  }
  if (!runsAs(user, copy)) throw new EmbeddedPostgresError(`The system user "${USER}" cannot run the embedded PostgreSQL copied to ${copy}: ${WAYS_OUT}`);
  return copy;
}

/**
 * The data directory the server uses for `requested`: itself when the user can reach it, otherwise
 * a directory of the user's own under the state directory, keyed by the requested path, with
 * `requested` made a symbolic link to it. Deleting that link starts from scratch, as deleting the
 * directory did; moving the project keeps the link working.
 */
export function reachableDataDir(user: RunAs, requested: string, stateDir: string): string {
  const link = fs.lstatSync(requested, { throwIfNoEntry: false });
  if (link?.isSymbolicLink()) {
    const target = fs.existsSync(requested) ? fs.realpathSync(requested) : undefined;
    if (!target) fs.rmSync(requested); // its directory was deleted: start from scratch
    else if (canEnter(user, path.dirname(target))) return target;
    else throw new EmbeddedPostgresError(`The system user "${USER}" cannot reach ${target}, where ${requested} points: ${WAYS_OUT}`);
  }
  fs.mkdirSync(path.dirname(requested), { recursive: true });
  if (canEnter(user, path.dirname(requested))) return requested;

  stateDirFor(user, stateDir, requested);
  const home = path.join(stateDir, 'data', createHash('sha256').update(requested).digest('hex').slice(0, 16));
  const dataDir = path.join(home, 'postgres');
  const exists = fs.lstatSync(requested, { throwIfNoEntry: false });
  if (exists && !exists.isSymbolicLink()) {
    // A cluster made here earlier, before the directory became unreachable: moved, not copied.
    try {
      fs.mkdirSync(home, { recursive: true, mode: 0o755 });
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.renameSync(requested, dataDir);
    } catch (err) {
      throw new EmbeddedPostgresError(`The system user "${USER}" cannot reach ${requested}, and it could not be moved to ${dataDir} (${reason(err)}): move it there yourself, ${WAYS_OUT}`);
    }
  } else if (!exists) {
    fs.rmSync(home, { recursive: true, force: true });
    fs.mkdirSync(home, { recursive: true, mode: 0o755 });
  }
  fs.writeFileSync(path.join(home, 'source'), `${requested}\n`);
  if (!fs.lstatSync(requested, { throwIfNoEntry: false })) fs.symlinkSync(dataDir, requested);
  return dataDir;
}
