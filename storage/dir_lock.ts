/**
 * An exclusive lock on a data directory, so that two processes never write
 * one directory (they would each replay and append their own commit log and
 * manifest, and one's acknowledged writes would vanish). The role of
 * RocksDB's and LevelDB's `LOCK` file, or PostgreSQL's `postmaster.pid`.
 *
 * Node has no flock, so the lock is a file: `<dir>/LOCK` names its holder.
 *
 *   LOCK (one JSON line, written in full before it appears):
 *   {"pid":1234,"host":"h","boot_id":"…","start_ticks":5678,"since_ms":…,"token":"<128-bit hex>"}
 *
 *   pid, host    the holding process (the error a second opener gets names them)
 *   boot_id      /proc/sys/kernel/random/boot_id: another boot means every pid of it is gone
 *   start_ticks  field 22 of /proc/<pid>/stat: the same pid with another start time was reused
 *   token        unique per acquisition; says "this very lock file" when breaking a stale one
 *
 * Acquire: the content goes to `LOCK.tmp.<pid>.<token>`, is fsynced, then
 * hard-linked to `LOCK`; link fails if `LOCK` exists, so exactly one opener
 * creates it and no reader ever sees a partial file.
 *
 * A `LOCK` whose holder is on this host and not running (or is another
 * process under a reused pid, or of an earlier boot) is stale. Two openers
 * may judge it stale at once, and "read it, then delete it" would let the
 * slower one delete the lock the faster one just created. So a stale lock
 * with token T is broken only by the one opener that creates
 * `LOCK.break.<T>` (the same exclusive link): it checks that `LOCK` still
 * carries T, removes it, then removes its break file and competes for `LOCK`
 * like anyone else. Only a holder of `LOCK.break.<T>` removes the lock with
 * token T, and T is never reused, so a live lock is never removed. A breaker
 * that crashes leaves a stale break file, which is broken the same way (by
 * `LOCK.break.<its token>`), at most DIR_LOCK_BREAK_DEPTH_MAX deep.
 *
 * A holder on another host (a directory shared over NFS) cannot be checked
 * from here: the lock is refused and the message says how to clear it.
 *
 * Thread contract: any thread; the lock belongs to the process (two opens in
 * one process conflict like two processes).
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DataDirError } from '../src/core/errors.js';
import { DIR_LOCK_ATTEMPTS_MAX, DIR_LOCK_BREAK_DEPTH_MAX, DIR_LOCK_RETRY_DELAY_MS } from '../src/core/limits.js';

/** Name of the lock file in a locked directory. */
export const LOCK_FILE = 'LOCK';

/** Who holds a lock, as its file records it. */
export interface LockHolder {
  pid: number;
  host: string;
  /** The holder's boot, or null where the OS does not say. */
  boot_id: string | null;
  /** The holder's start time in clock ticks since boot, or null where the OS does not say. */
  start_ticks: number | null;
  /** When it took the lock (ms since the epoch). */
  since_ms: number;
  /** Unique per acquisition. */
  token: string;
}

/** What `lockDir` needs to know of processes; tests replace it. */
export interface ProcessProbe {
  hostname(): string;
  /** This machine's current boot, or null. */
  bootId(): string | null;
  /** True if a process with `pid` runs (or exists under another user). */
  isRunning(pid: number): boolean;
  /** The start time of process `pid` in clock ticks since boot, or null if unknown. */
  startTicks(pid: number): number | null;
}

/** A held lock. */
export interface DirLock {
  readonly dir: string;
  readonly holder: LockHolder;
  /** Remove the lock file if it is still this lock's; later calls do nothing. */
  release(): Promise<void>;
}

/**
 * Take the exclusive lock on `dir` (which must exist). Throws
 * `DataDirError` ('in-use', with the holder's pid) when another process,
 * or an open cluster of this one, holds it; a stale lock is taken over.
 */
export async function lockDir(dir: string, probe: ProcessProbe = REAL_PROCESSES): Promise<DirLock> {
  const me = selfHolder(probe);
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < DIR_LOCK_ATTEMPTS_MAX; attempt++) {
    if (await createExclusive(dir, path, me)) {
      await removeLeftovers(dir, probe);
      return heldLock(dir, path, me);
    }
    const held = await readHolder(dir, path);
    if (held === null) continue; // released (or broken) since we tried: try again
    const verdict = judge(held, probe);
    if (verdict !== 'stale') throw inUse(dir, path, held, verdict, me);
    if (!(await breakStale(dir, path, held.token, probe, 0))) await sleep(DIR_LOCK_RETRY_DELAY_MS);
  }
  throw new DataDirError(
    dir,
    'in-use',
    `could not take ${path} in ${DIR_LOCK_ATTEMPTS_MAX} attempts: other processes keep taking and breaking it; make sure one process at a time opens this directory`,
  );
}

/** How a holder stands: running here, gone (stale), or on another host (unknown). */
type Verdict = 'running' | 'stale' | 'elsewhere';

function judge(held: LockHolder, probe: ProcessProbe): Verdict {
  if (held.host !== probe.hostname()) return 'elsewhere';
  const boot = probe.bootId();
  if (held.boot_id !== null && boot !== null && held.boot_id !== boot) return 'stale';
  if (!probe.isRunning(held.pid)) return 'stale';
  if (held.start_ticks !== null) {
    const ticks = probe.startTicks(held.pid);
    if (ticks !== null && ticks !== held.start_ticks) return 'stale'; // the pid now names another process
  }
  return 'running';
}

/**
 * Break the stale file at `target` whose token is `token`, if this opener
 * wins the right to (see the header). Returns false when another live
 * opener is breaking it, so the caller waits and looks again.
 */
async function breakStale(dir: string, target: string, token: string, probe: ProcessProbe, depth: number): Promise<boolean> {
  const breakPath = join(dir, `${LOCK_FILE}.break.${token}`);
  const me = selfHolder(probe);
  if (!(await createExclusive(dir, breakPath, me))) {
    const breaker = await readHolder(dir, breakPath);
    if (breaker === null) return true; // that breaker finished: look again
    if (judge(breaker, probe) !== 'stale') return false;
    if (depth + 1 >= DIR_LOCK_BREAK_DEPTH_MAX) {
      throw new DataDirError(
        dir,
        'unreadable-lock',
        `${DIR_LOCK_BREAK_DEPTH_MAX} processes crashed in turn while taking over its stale lock; if no ringkv process uses this directory, delete ${join(dir, LOCK_FILE)}* and start again`,
      );
    }
    return breakStale(dir, breakPath, breaker.token, probe, depth + 1);
  }
  try {
    // Only the holder of this break file may remove the file with `token`, so it is still there unless it was never stale.
    const current = await readHolder(dir, target);
    if (current !== null && current.token === token) await fsp.unlink(target);
  } finally {
    await unlinkIfPresent(breakPath);
  }
  return true;
}

/** Create `path` holding `holder`, only if it does not exist; false if it does. */
async function createExclusive(dir: string, path: string, holder: LockHolder): Promise<boolean> {
  const temp = join(dir, `${LOCK_FILE}.tmp.${holder.pid}.${randomBytes(8).toString('hex')}`);
  const file = await fsp.open(temp, 'wx');
  try {
    await file.writeFile(`${JSON.stringify(holder)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await fsp.link(temp, path);
    return true;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    if (!LINK_UNSUPPORTED.includes(errorCode(err) ?? '')) throw err;
    return createInPlace(path, holder);
  } finally {
    await unlinkIfPresent(temp);
  }
}

/** What `link` fails with on file systems without hard links (vfat, some FUSE and SMB mounts). */
const LINK_UNSUPPORTED = ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'];

/** Exclusive create without link: still one winner, but a reader may glimpse the file before its content (it is then refused as unreadable). */
async function createInPlace(path: string, holder: LockHolder): Promise<boolean> {
  let file;
  try {
    file = await fsp.open(path, 'wx');
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    await file.writeFile(`${JSON.stringify(holder)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  return true;
}

/** The holder named in `path`, or null if the file is gone; an unreadable file is refused with advice. */
async function readHolder(dir: string, path: string): Promise<LockHolder | null> {
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null;
    throw err;
  }
  const holder = parseHolder(text);
  if (holder === null) {
    throw new DataDirError(
      dir,
      'unreadable-lock',
      `its lock file ${path} does not name a holder (${JSON.stringify(text.slice(0, 80))}); ringkv writes it whole, so something else changed it: if no ringkv process uses this directory, delete it and start again`,
    );
  }
  return holder;
}

/** A lock file's holder, or null if it is not one. */
export function parseHolder(text: string): LockHolder | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  const ok =
    Number.isSafeInteger(v['pid']) && (v['pid'] as number) >= 1 &&
    typeof v['host'] === 'string' &&
    (v['boot_id'] === null || typeof v['boot_id'] === 'string') &&
    (v['start_ticks'] === null || Number.isSafeInteger(v['start_ticks'])) &&
    Number.isFinite(v['since_ms']) &&
    typeof v['token'] === 'string' && /^[0-9a-f]{32}$/.test(v['token']);
  if (!ok) return null;
  return {
    pid: v['pid'] as number,
    host: v['host'] as string,
    boot_id: v['boot_id'] as string | null,
    start_ticks: v['start_ticks'] as number | null,
    since_ms: v['since_ms'] as number,
    token: v['token'] as string,
  };
}

/** The refusal a second opener gets: who holds it, since when, and what to do. */
function inUse(dir: string, path: string, held: LockHolder, verdict: 'running' | 'elsewhere', me: LockHolder): DataDirError {
  const since = new Date(held.since_ms).toISOString();
  if (verdict === 'elsewhere') {
    return new DataDirError(
      dir,
      'in-use',
      `locked by process ${held.pid} on host ${held.host} (since ${since}), which cannot be checked from ${me.host}; ` +
        `stop it there, or if it no longer runs delete ${path}; two processes on one data directory lose writes`,
      held.pid,
    );
  }
  const who = held.pid === me.pid ? `this process (pid ${held.pid}): a cluster opened on it earlier is still open; close it first` : `process ${held.pid} (since ${since}); stop it first (kill ${held.pid})`;
  return new DataDirError(dir, 'in-use', `in use by ${who}, or give another data directory; two processes on one data directory lose writes`, held.pid);
}

function heldLock(dir: string, path: string, holder: LockHolder): DirLock {
  let released: Promise<void> | null = null;
  return {
    dir,
    holder,
    release() {
      released ??= (async () => {
        const current = await readHolder(dir, path).catch(() => null);
        // Not ours any more only if someone deleted it by hand; theirs is left alone.
        if (current !== null && current.token === holder.token) await unlinkIfPresent(path);
      })();
      return released;
    },
  };
}

/** Temp files of openers that died, and break files: harmless once the lock is held, removed so they do not pile up. */
async function removeLeftovers(dir: string, probe: ProcessProbe): Promise<void> {
  for (const name of await fsp.readdir(dir)) {
    const temp = /^LOCK\.tmp\.(\d+)\./.exec(name);
    // A break file left now is of a lock that is gone: its breaker (if alive) finds the token changed and stops.
    const stale = temp ? !probe.isRunning(Number(temp[1])) : name.startsWith(`${LOCK_FILE}.break.`);
    if (stale) await unlinkIfPresent(join(dir, name));
  }
}

function selfHolder(probe: ProcessProbe): LockHolder {
  return {
    pid: process.pid,
    host: probe.hostname(),
    boot_id: probe.bootId(),
    start_ticks: probe.startTicks(process.pid),
    since_ms: Date.now(),
    token: randomBytes(16).toString('hex'),
  };
}

/** Processes as the OS reports them (Linux /proc for boot id and start times; elsewhere pid liveness only). */
export const REAL_PROCESSES: ProcessProbe = {
  hostname: () => hostname(),
  bootId: () => readProc('/proc/sys/kernel/random/boot_id')?.trim() ?? null,
  isRunning(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return errorCode(err) === 'EPERM'; // exists, owned by another user
    }
  },
  startTicks(pid) {
    const stat = readProc(`/proc/${pid}/stat`);
    if (stat === null) return null;
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[22 - 3]);
    return Number.isSafeInteger(ticks) ? ticks : null;
  },
};

function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await fsp.unlink(path);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}

function errorCode(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
