/**
 * The storage engine's vocabulary: how to open one (`EngineOptions`, with
 * their defaults), the counters it keeps (`EngineStats`), and the checks a
 * write passes before anything is applied (`validateWrite`).
 *
 * Pure data and checks; no I/O.
 */
import { CLOCK_MAX_BYTES, BLOOM_FP_RATE_DEFAULT, KEY_MAX_BYTES, MEMTABLE_FLUSH_BYTES, SSTABLE_BLOCK_CACHE_BYTES, TOMBSTONE_GRACE_MS, VALUE_MAX_BYTES } from '../src/core/limits.js';
import { InvalidRequestError, type CorruptionError } from '../src/core/errors.js';
import type { VersionOrder } from '../src/core/version_order.js';
import type { CommitLogTimers, SyncMode } from './commit_log.js';
import type { FileSystem } from './fs.js';
import type { QuarantinedTable } from './table_damage.js';
import type { Version } from './version.js';

/** How to open an engine. */
export interface EngineOptions {
  fs: FileSystem;
  /** Directory of this node's data. */
  dir: string;
  /** How versions' clocks relate (from src/core). */
  order: VersionOrder;
  /** The node's clock (ms); from the actor context, virtual in the simulator. */
  now: () => number;
  /** Timers for periodic commit-log sync (actor timers in a node). */
  timers?: CommitLogTimers;
  /** `batch` (default): acknowledge after fsync. `periodic`: fsync every `periodicSync_ms`. */
  syncMode?: SyncMode;
  periodicSync_ms?: number;
  memtableFlushBytes?: number;
  commitLogSegmentBytes?: number;
  bloomFpRate?: number;
  /** Bytes of verified data blocks cached for reads. */
  blockCacheBytes?: number;
  /** Tombstones younger than this are never purged (in a cluster at least the hint TTL: node_plan.ts checks). */
  tombstoneGrace_ms?: number;
  /** Told when something happens that may call for a compaction (a flush). */
  onTablesChanged?: () => void;
  /** Told of background failures (flush, file deletion): the engine stays read-only-safe. */
  onError?: (what: string, err: unknown) => void;
  /**
   * Told once, during `open`, that commit-log recovery cut off a corrupt tail
   * (`RecoveryReport.corruptTail`): records that may have been acknowledged
   * are gone from this node. Log it at error level; `recovery` keeps it.
   */
  onDataLoss?: (message: string, fields: Record<string, unknown>) => void;
  /**
   * Told of two versions of `key` whose clocks name one write but different
   * values (`Causality` 'conflict', issue 12): an invariant violation. Both
   * are kept as siblings. Called from writes, reads, scans and compactions
   * each time they reconcile the pair, so a conflict still stored is told
   * again: it stands until a write that saw it supersedes both.
   */
  onDotConflict?: (key: Uint8Array, a: Version, b: Version) => void;
  /**
   * Told once per damaged table: a read met a data block of the SSTable at
   * `path` that failed its checksum (or its structure checks). The table is
   * skipped from then on and quarantined (`table_damage.ts`).
   */
  onChecksumFailure?: (path: string, err: CorruptionError) => void;
  /** Told when a damaged table was moved to quarantine: what this replica no longer holds. */
  onQuarantined?: (table: QuarantinedTable) => void;
  /**
   * Told of every write as it is applied: the versions of `key` just before
   * and just after it (reconciled, as `get` would answer). Anti-entropy keeps
   * its hash trees in step with it (issue 15). Set only when someone
   * listens: it costs a read of the key before each write. `before` skips
   * damaged tables, as `get` does.
   */
  onChanged?: (key: Uint8Array, before: readonly Version[], after: readonly Version[]) => void;
}

/** The callbacks of `EngineOptions`: optional even once defaults are applied. */
type EngineCallbacks = 'timers' | 'onTablesChanged' | 'onError' | 'onDataLoss' | 'onDotConflict' | 'onChecksumFailure' | 'onQuarantined' | 'onChanged';

/** `EngineOptions` with every tunable set. */
export type ResolvedEngineOptions = Required<Omit<EngineOptions, EngineCallbacks>> & EngineOptions;

/** `options` with the defaults filled in. */
export function resolveEngineOptions(options: EngineOptions): ResolvedEngineOptions {
  return {
    syncMode: 'batch',
    periodicSync_ms: 100,
    memtableFlushBytes: MEMTABLE_FLUSH_BYTES,
    commitLogSegmentBytes: 32 * 1024 * 1024,
    bloomFpRate: BLOOM_FP_RATE_DEFAULT,
    blockCacheBytes: SSTABLE_BLOCK_CACHE_BYTES,
    tombstoneGrace_ms: TOMBSTONE_GRACE_MS,
    ...options,
  };
}

/** Counters for metrics and the storage benchmark. */
export interface EngineStats {
  puts: number;
  gets: number;
  /** Bytes of keys, clocks and values written by users. */
  userBytes: number;
  commitLogBytes: number;
  flushes: number;
  flushBytes: number;
  compactions: number;
  compactionBytesIn: number;
  compactionBytesOut: number;
  tablesConsulted: number;
  bloomNegatives: number;
}

/** Fresh counters. */
export function newEngineStats(): EngineStats {
  return {
    puts: 0, gets: 0, userBytes: 0, commitLogBytes: 0, flushes: 0, flushBytes: 0,
    compactions: 0, compactionBytesIn: 0, compactionBytesOut: 0, tablesConsulted: 0, bloomNegatives: 0,
  };
}

/** Refuse a write the store must never hold (`InvalidRequestError`, nothing applied). */
export function validateWrite(key: Uint8Array, version: Version): void {
  if (key.length === 0 || key.length > KEY_MAX_BYTES) throw new InvalidRequestError(`key of ${key.length} bytes; keys are 1..${KEY_MAX_BYTES} bytes`);
  if (version.clock.length > CLOCK_MAX_BYTES) throw new InvalidRequestError(`clock of ${version.clock.length} bytes exceeds ${CLOCK_MAX_BYTES}`);
  if (version.value !== null && version.value.length > VALUE_MAX_BYTES) {
    throw new InvalidRequestError(`value of ${version.value.length} bytes exceeds ${VALUE_MAX_BYTES}; split it`);
  }
  if (!Number.isFinite(version.ts_ms)) throw new InvalidRequestError('version timestamp is not a finite number');
}
