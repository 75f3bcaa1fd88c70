/**
 * The causal-order interface the storage engine uses to reconcile versions.
 *
 * The engine stores each version's causal metadata (an encoded vector clock)
 * as opaque bytes and asks this interface how two of them relate, so
 * `storage/` does not depend on the coordinator's versioning scheme.
 */

/** How version `a` relates to version `b`. */
export type Causality = 'before' | 'after' | 'equal' | 'concurrent';

/** Compares two opaque clock blobs. Must be a pure function. */
export interface VersionOrder {
  compare(a: Uint8Array, b: Uint8Array): Causality;
}
