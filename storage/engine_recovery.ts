/**
 * Opening a store directory: what `StorageEngine.open` rebuilds before the
 * engine takes its first write.
 *
 *   1. The manifest says which SSTables are live (after finishing any
 *      quarantine a crash interrupted: `quarantine.ts`); `.sst` files it
 *      does not name are leftovers of a crash mid-flush or mid-compaction and go.
 *   2. Every live table is opened (footer, filter and index verified).
 *   3. The commit log is replayed into a fresh memtable from the manifest's
 *      replay start (older segments are already in tables); recovery cuts a
 *      torn or corrupt tail, and a corrupt one is reported as data loss.
 *   4. Segment ids only grow: a log whose newest segment is older than the
 *      replay start lost segments, and is refused (`CorruptionError`).
 *
 * Any failure closes what was opened and rejects: the node's replica then
 * reports its storage failed (actors/replica.ts).
 *
 * Thread contract: the opening node's thread.
 */
import { CorruptionError } from '../src/core/errors.js';
import { BlockCache } from './block_cache.js';
import { CommitLog } from './commit_log.js';
import type { ResolvedEngineOptions } from './engine_options.js';
import { joinPath } from './fs.js';
import { Manifest } from './manifest.js';
import { Memtable } from './memtable.js';
import { decodeMutation } from './mutation.js';
import { recoverQuarantines } from './quarantine.js';
import { SSTableReader } from './sstable_reader.js';
import { TableSet } from './table_set.js';

/** What an opened store directory holds, ready for the engine. */
export interface RecoveredStore {
  manifest: Manifest;
  log: CommitLog;
  tables: TableSet;
  cache: BlockCache;
  /** The commit log's records since the replay start. */
  memtable: Memtable;
}

/** Open (or create) the store in `options.dir`, recovering from manifest, tables and commit log. */
export async function recoverStore(options: ResolvedEngineOptions): Promise<RecoveredStore> {
  const { fs, dir } = options;
  const manifest = await Manifest.open(fs, dir);
  // Before orphan cleanup: a quarantine a crash interrupted is finished, never taken for an orphan.
  await recoverQuarantines(fs, manifest, (message, fields) => options.onDataLoss?.(message, fields));
  for (const orphan of await manifest.orphanTables()) await fs.remove(orphan);
  const cache = new BlockCache(options.blockCacheBytes);
  const tables = new TableSet(fs, (path, err) => options.onError?.(`delete ${path}`, err));
  try {
    const opened = [];
    for (const table of manifest.current.tables) {
      opened.push({ fileNumber: table.file_number, reader: await SSTableReader.open(fs, manifest.tablePath(table.file_number), { cache }) });
    }
    tables.add(opened);
  } catch (err) {
    await tables.closeAll();
    throw err;
  }
  const memtable = new Memtable(options.order);
  const replayFrom = manifest.current.commitlog_replay_from;
  const logDir = joinPath(dir, 'commitlog');
  let log: CommitLog;
  try {
    log = await CommitLog.open(
      fs,
      logDir,
      { syncMode: options.syncMode, periodicSync_ms: options.periodicSync_ms, segmentBytes: options.commitLogSegmentBytes, ...(options.timers ? { timers: options.timers } : {}) },
      (payload, position) => {
        // Segments before the replay start are already in SSTables (their deletion may not have been durable).
        if (position.segmentId < replayFrom) return;
        const mutation = decodeMutation(payload, joinPath(logDir, `segment ${position.segmentId}`));
        // What was accepted is restored: the sibling bound was checked at admission.
        memtable.put(mutation.key, [mutation.version], { enforceSiblingLimit: false });
      },
    );
  } catch (err) {
    await tables.closeAll();
    throw err;
  }
  const newest = log.segmentIds().at(-1) ?? 0;
  if (newest < replayFrom) {
    // Segment ids only grow; ids below the replay start mean the log directory was lost or replaced,
    // and every new write would be skipped by the next replay. Refuse loudly.
    await log.close();
    await tables.closeAll();
    throw new CorruptionError(logDir, -1, `the newest commit-log segment is ${newest} but the manifest replays from ${replayFrom}: segments are missing`);
  }
  const dropped = log.recovery.corruptTail;
  if (dropped !== null) {
    options.onDataLoss?.('commit log: a corrupt tail of the last segment was cut off at open', {
      path: dropped.path,
      offset: dropped.offset,
      dropped_bytes: dropped.droppedBytes,
      meaning: 'records after this point on this replica are gone (some may have been acknowledged); other replicas and read repair restore them',
    });
  }
  return { manifest, log, tables, cache, memtable };
}
