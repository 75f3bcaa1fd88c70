/**
 * A replica's storage health: what failed, and what an operator can do
 * about it (issue 13, "a broken disk never hides").
 *
 * Storage fails when it cannot open (a corrupt MANIFEST or table footer,
 * missing commit-log segments, a permission or disk error) or when a write
 * fails in a way the engine cannot take back (a commit-log append or fsync,
 * a memtable flush, a manifest edit: each needs a reopen, whose recovery
 * truncates what the failure left). A replica in that state serves nothing
 * and its node is treated as down by every coordinator (writes meant for it
 * go to fallbacks as hints, reads to its peers), until a reopen succeeds.
 *
 * The advice names only what exists in ringkv: hinted handoff and read
 * repair refill a replica; there is no anti-entropy or repair command yet.
 *
 * Pure: no I/O.
 */
import { CorruptionError, UnavailableError } from '../src/core/errors.js';
import { STORAGE_REOPEN_INTERVAL_MS } from '../src/core/limits.js';

/** Why a replica's storage is failed, for logs, status and errors. */
export interface StorageFailure {
  /** What failed, e.g. "corruption in /data/n1/MANIFEST at offset 88: manifest: checksum mismatch". */
  cause: string;
  /** What an operator can do about it. */
  advice: string;
}

/** The cause and advice of a storage failure of the replica at `dir`. */
export function describeStorageFailure(dir: string, err: unknown): StorageFailure {
  const cause = causeText(err);
  if (err instanceof CorruptionError) {
    return {
      cause,
      advice:
        `this node serves no data and is treated as down; its keys are served by the other replicas and writes for it wait as hints. ` +
        `To bring it back: stop ringkv, move ${dir} aside (keep it to inspect) and start ringkv again; the node starts empty and is ` +
        'refilled by hinted handoff and by read repair of the keys that are read (there is no anti-entropy yet), so read at R=quorum or higher meanwhile',
    };
  }
  return {
    cause,
    advice:
      `this node serves no data and is treated as down; fix what the cause names (disk space, permissions, a failing disk under ${dir}); ` +
      `the node tries to open its storage again every ${STORAGE_REOPEN_INTERVAL_MS / 1000} s and serves again once it opens`,
  };
}

/** The error a failed replica answers every request with: the node is down, nothing was applied. */
export function storageFailedError(dir: string, failure: StorageFailure): UnavailableError {
  return new UnavailableError(
    0,
    1,
    `the storage of the replica at ${dir} failed: ${failure.cause}`,
    'nothing was applied here; the cluster treats this node as down and serves its keys from the other replicas: retry',
  );
}

/** An error's message without its class prefix or a nested "failed to open" chain. */
function causeText(err: unknown): string {
  if (err instanceof Error) {
    // An errno code (ENOSPC, EACCES, EIO) names the failure best; ringkv's own errors carry it in their message.
    const code = (err as NodeJS.ErrnoException).code;
    return typeof code === 'string' && /^E[A-Z]+$/.test(code) && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
