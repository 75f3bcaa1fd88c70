/**
 * Size-tiered compaction strategy (Cassandra's STCS): group SSTables of
 * similar size into buckets and merge a bucket once it holds
 * COMPACTION_MIN_THRESHOLD tables, at most COMPACTION_MAX_THRESHOLD at a time.
 * Merging similar sizes keeps write amplification logarithmic in the data
 * size: each byte is rewritten about once per size tier.
 *
 * A table joins a bucket when its size is within [avg / ratio, avg * ratio]
 * of the bucket's average, or when both it and the bucket are small (under
 * COMPACTION_SMALL_TABLE_BYTES), so freshly flushed tables of uneven size
 * still compact together.
 *
 * Pure: a function of the table list, no I/O.
 */
import {
  COMPACTION_BUCKET_RATIO,
  COMPACTION_MAX_THRESHOLD,
  COMPACTION_MIN_THRESHOLD,
  COMPACTION_SMALL_TABLE_BYTES,
} from '../src/core/limits.js';

/** What the policy needs to know of a table. */
export interface TableSize {
  fileNumber: number;
  bytes: number;
}

/** Knobs of the size-tiered policy; defaults from limits.ts. */
export interface SizeTieredOptions {
  bucketRatio?: number;
  minThreshold?: number;
  maxThreshold?: number;
  smallTableBytes?: number;
}

/** Group tables into size tiers, smallest tier first. */
export function sizeTieredBuckets(tables: readonly TableSize[], options: SizeTieredOptions = {}): TableSize[][] {
  const ratio = options.bucketRatio ?? COMPACTION_BUCKET_RATIO;
  const small = options.smallTableBytes ?? COMPACTION_SMALL_TABLE_BYTES;
  const sorted = [...tables].sort((a, b) => a.bytes - b.bytes || a.fileNumber - b.fileNumber);
  const buckets: { tables: TableSize[]; total: number }[] = [];
  for (const table of sorted) {
    const last = buckets[buckets.length - 1];
    if (last) {
      const avg = last.total / last.tables.length;
      const similar = table.bytes >= avg / ratio && table.bytes <= avg * ratio;
      if (similar || (table.bytes < small && avg < small)) {
        last.tables.push(table);
        last.total += table.bytes;
        continue;
      }
    }
    buckets.push({ tables: [table], total: table.bytes });
  }
  return buckets.map((b) => b.tables);
}

/**
 * The tables to compact next, or [] when no bucket is due. Picks the bucket
 * with the most tables (ties: the smaller tier, which is cheaper and frees
 * the most read amplification per byte), and within it the smallest
 * `maxThreshold` tables.
 */
export function pickCompaction(tables: readonly TableSize[], options: SizeTieredOptions = {}): TableSize[] {
  const min = options.minThreshold ?? COMPACTION_MIN_THRESHOLD;
  const max = options.maxThreshold ?? COMPACTION_MAX_THRESHOLD;
  let best: TableSize[] = [];
  for (const bucket of sizeTieredBuckets(tables, options)) {
    if (bucket.length >= min && bucket.length > best.length) best = bucket;
  }
  return best.slice(0, max);
}
