/**
 * The live SSTables of one store, each with a reader and a reference count.
 * A table replaced by compaction leaves the live set at once but its file is
 * deleted only when the last scan that still reads it releases it: "old
 * files are deleted only when no reader uses them".
 *
 * Point reads are synchronous and need no reference; scans, which can span
 * async gaps, `acquire` a snapshot and `release` it when done.
 *
 * Thread contract: the owning node's thread only.
 */
import { assert } from '../src/core/assert.js';
import type { CorruptionError } from '../src/core/errors.js';
import type { FileSystem } from './fs.js';
import type { SSTableReader } from './sstable_reader.js';

/** A live table. */
export interface LiveTable {
  fileNumber: number;
  reader: SSTableReader;
  /** Scans reading it, plus one while it is live. */
  refs: number;
  /**
   * Set when one of its data blocks failed its checksum: reads skip it (an
   * answer for a key it may hold is marked damaged) until its quarantine
   * takes it out of the live set (`table_damage.ts`).
   */
  damage?: CorruptionError;
}

/** The live tables, newest (highest file number) first. */
export class TableSet {
  private live: LiveTable[] = [];
  /** Replaced tables still read by a scan. */
  private retired = new Set<LiveTable>();

  constructor(
    private readonly fs: FileSystem,
    /** Called when a retired table's file could not be deleted (it is left for orphan cleanup). */
    private readonly onDeleteError: (path: string, err: unknown) => void,
  ) {}

  /** Live tables, newest first. Do not keep the array across async gaps. */
  get tables(): readonly LiveTable[] {
    return this.live;
  }

  /** Add freshly written or opened tables. */
  add(tables: { fileNumber: number; reader: SSTableReader }[]): void {
    for (const t of tables) {
      assert(!this.live.some((l) => l.fileNumber === t.fileNumber), 'a table is added once');
      this.live.push({ fileNumber: t.fileNumber, reader: t.reader, refs: 1 });
    }
    this.live.sort((a, b) => b.fileNumber - a.fileNumber);
  }

  /** Take `fileNumbers` out of the live set; their files go when unreferenced. */
  retire(fileNumbers: readonly number[]): void {
    const doomed = new Set(fileNumbers);
    const leaving = this.live.filter((t) => doomed.has(t.fileNumber));
    assert(leaving.length === doomed.size, 'retire only live tables');
    this.live = this.live.filter((t) => !doomed.has(t.fileNumber));
    for (const table of leaving) {
      this.retired.add(table);
      this.release([table]);
    }
  }

  /** A snapshot of the live tables for a scan; pass it to `release` afterwards. */
  acquire(): LiveTable[] {
    const snapshot = [...this.live];
    for (const table of snapshot) table.refs++;
    return snapshot;
  }

  /** Drop references; a retired table with none left is closed and deleted. */
  release(tables: readonly LiveTable[]): void {
    for (const table of tables) {
      table.refs--;
      assert(table.refs >= 0, 'table references never go negative');
      if (table.refs === 0 && this.retired.has(table)) {
        this.retired.delete(table);
        void this.destroy(table);
      }
    }
  }

  /** Close every reader (store shutdown); files stay. */
  async closeAll(): Promise<void> {
    for (const table of [...this.live, ...this.retired]) await table.reader.close();
    this.live = [];
    this.retired.clear();
  }

  private async destroy(table: LiveTable): Promise<void> {
    const path = table.reader.path;
    try {
      await table.reader.close();
      await this.fs.remove(path);
    } catch (err) {
      this.onDeleteError(path, err);
    }
  }
}
