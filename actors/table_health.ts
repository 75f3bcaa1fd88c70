/**
 * A replica's record of damaged SSTables (issue 13): each checksum failure
 * its engine met is logged at error level (node, file, what happens and what
 * to do) and counted per file; each table moved to quarantine is logged with
 * what this replica lost. Both feed the `stats` ask (`storage` in
 * `cluster.status()`, and `/metrics`).
 *
 * Counts are since the replica actor started, bounded by
 * CHECKSUM_FAILURE_FILES_MAX files (more are counted under "other").
 *
 * Thread contract: the replica actor's.
 */
import { isoTime } from '../src/core/iso_time.js';
import { CorruptionError } from '../src/core/errors.js';
import { CHECKSUM_FAILURE_FILES_MAX } from '../src/core/limits.js';
import type { ActorContext } from '../src/runtime/actor.js';
import type { QuarantinedTable } from '../storage/table_damage.js';
import { memberId } from './member_refs.js';
import { describeKey } from './log_text.js';

/** What `TableHealth.report` gives the `stats` ask. */
export interface TableHealthReport {
  /** SSTable checksum failures met, per file path (one per damaged table: it is skipped afterwards). */
  checksumFailures: Record<string, number>;
  /** Tables moved to quarantine (their paths under `<node dir>/quarantine/`). */
  quarantined: string[];
}

/** The label failures beyond CHECKSUM_FAILURE_FILES_MAX files are counted under. */
const OTHER_FILES = 'other';

/** Damaged tables one replica met. */
export class TableHealth {
  private readonly failures = new Map<string, number>();
  private readonly moved: string[] = [];

  constructor(private readonly dir: () => string) {}

  /** A data block of the table at `path` failed its checksum: log and count it. */
  checksumFailure(path: string, err: CorruptionError, ctx: ActorContext<never>): void {
    const label = this.failures.has(path) || this.failures.size < CHECKSUM_FAILURE_FILES_MAX ? path : OTHER_FILES;
    this.failures.set(label, (this.failures.get(label) ?? 0) + 1);
    ctx.log.error('sstable checksum failure: a data block of this table does not match its checksum', {
      node: memberId(ctx.self.thread),
      dir: this.dir(),
      file: path,
      error: err.message,
      what_happens: 'reads of keys this table may hold are served by the other replicas, which repair them here; the table is moved to quarantine/',
      what_to_do: 'nothing for the data; if checksum failures repeat on this node, check or replace its disk',
    });
  }

  /** A damaged table left the live set for quarantine: log what this replica lost. */
  quarantined(table: QuarantinedTable, ctx: ActorContext<never>): void {
    if (this.moved.length < CHECKSUM_FAILURE_FILES_MAX) this.moved.push(table.to);
    ctx.log.error('sstable quarantined: moved out of the live set, kept (not deleted) for inspection', {
      node: memberId(ctx.self.thread),
      file: table.from,
      moved_to: table.to,
      lost_here: `${table.entries} keys from ${describeKey(table.min_key)} to ${describeKey(table.max_key)}, written ${isoTime(table.min_ts_ms)} .. ${isoTime(table.max_ts_ms)}`,
      refilled_by: 'the other replicas hold these keys; read repair writes each back here when it is read, hinted handoff covers writes missed meanwhile (there is no anti-entropy yet: keys never read stay on fewer replicas until written again)',
      what_to_do: `nothing for the data; the file under ${table.to} may be deleted once inspected`,
    });
  }

  /** Counts and quarantined tables so far. */
  report(): TableHealthReport {
    return { checksumFailures: Object.fromEntries(this.failures), quarantined: [...this.moved] };
  }
}

/** The answer of a replica read that skipped a damaged table: corruption, so the coordinator reads elsewhere and repairs. */
export function damagedAnswer(path: string): CorruptionError {
  return new CorruptionError(path, -1, 'a data block of this table failed its checksum; this replica answered without it (the table is being quarantined)');
}
