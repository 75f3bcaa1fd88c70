/**
 * One version of a key: a value or a tombstone with its causal metadata.
 * The one type of it everywhere (coordinator, replicas, storage, hints, the
 * wire): the storage engine treats `clock` as opaque bytes and reconciles
 * through a `VersionOrder` (`version_order.ts`); the coordinator decodes it
 * as a dotted version vector (`dotted_version_vector.ts`).
 *
 * Pure: a type only.
 */

/** One version of a key's value. */
export interface Version {
  /** Opaque causal metadata (an encoded dotted version vector). */
  clock: Uint8Array;
  /** The value bytes, or null for a tombstone (a delete). */
  value: Uint8Array | null;
  /** When the version was written (ms, from the coordinator's actor clock): tombstone grace uses it. */
  ts_ms: number;
  /**
   * Tombstones only: every owner of the key is known to hold this tombstone
   * (a coordinator saw all of them store it and sent `confirm-tombstone`), so
   * compaction may purge it once its grace has passed (Riak's delete mode:
   * reap only what every primary holds). Absent on values and on tombstones
   * not yet confirmed.
   */
  purgeable?: true;
}
