/**
 * What the engine does when an SSTable data block fails its checksum
 * (issue 13): the table is marked damaged at once (reads skip it, and an
 * answer for a key it may hold says so, so the coordinator reads the key
 * from the other replicas and repairs this one), the failure is told to the
 * owner (log, count), and the table is quarantined (`quarantine.ts`) once no
 * compaction is reading it. Damaged tables are never compaction candidates.
 *
 * Thread contract: the engine's thread only.
 */
import type { CorruptionError } from '../src/core/errors.js';
import type { CompactionSwap } from './compaction_swap.js';
import type { ResolvedEngineOptions } from './engine_options.js';
import type { Manifest } from './manifest.js';
import { quarantineTable } from './quarantine.js';
import type { LiveTable, TableSet } from './table_set.js';

/** A table moved to quarantine, as the engine tells its owner. */
export interface QuarantinedTable {
  /** Where the table was, and where it is now. */
  from: string;
  to: string;
  /** What this replica no longer holds: the table's entries, key range and write times. */
  entries: number;
  min_key: Uint8Array;
  max_key: Uint8Array;
  min_ts_ms: number;
  max_ts_ms: number;
  /** The checksum failure that condemned it. */
  error: string;
}

/** Damaged tables of one engine and their quarantine. */
export class TableDamage {
  /** Damaged tables waiting for their quarantine (a compaction may still read them), by file number. */
  private readonly pending = new Map<number, LiveTable>();
  /** Tail of the quarantine chain: one at a time. */
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: ResolvedEngineOptions,
    private readonly manifest: Manifest,
    private readonly tables: TableSet,
    private readonly compactions: CompactionSwap,
  ) {}

  /** A read of `table` met `err` (a checksum or structure failure): mark it, tell the owner, quarantine it. */
  report(table: LiveTable, err: CorruptionError): void {
    if (table.damage !== undefined) return;
    table.damage = err;
    this.options.onChecksumFailure?.(table.reader.path, err);
    this.pending.set(table.fileNumber, table);
    this.runPending();
  }

  /** The live table whose file is `path`, if any (scans name the damaged file in their error). */
  tableAt(path: string): LiveTable | undefined {
    return this.tables.tables.find((t) => t.reader.path === path);
  }

  /** Quarantine every pending table no compaction is reading (also called when a compaction ends). */
  runPending(): void {
    for (const [fileNumber, table] of this.pending) {
      if (this.compactions.isCompacting(fileNumber)) continue;
      this.pending.delete(fileNumber);
      this.tail = this.tail.then(() => this.quarantine(table));
    }
  }

  /** Resolves once every quarantine started so far ended (tests, close). */
  settled(): Promise<void> {
    return this.tail;
  }

  private async quarantine(table: LiveTable): Promise<void> {
    // A compaction that finished meanwhile read the table whole (its blocks verified) and replaced it: nothing is lost.
    if (!this.tables.tables.includes(table)) return;
    const meta = table.reader.meta;
    try {
      const moved = await quarantineTable(this.options.fs, this.manifest, table.fileNumber);
      this.tables.retire([table.fileNumber]); // its old path no longer exists: the deferred delete removes nothing
      this.options.onQuarantined?.({
        ...moved,
        entries: meta.entry_count,
        min_key: meta.min_key,
        max_key: meta.max_key,
        min_ts_ms: meta.min_ts_ms,
        max_ts_ms: meta.max_ts_ms,
        error: table.damage?.message ?? '',
      });
    } catch (err) {
      // The table stays live and damaged (reads keep skipping it); a failed manifest edit fails the store.
      this.options.onError?.(`quarantine of ${table.reader.path}`, err);
    }
  }
}
