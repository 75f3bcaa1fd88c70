/**
 * The causal-order interface the storage engine uses to reconcile versions.
 *
 * The engine stores each version's causal metadata (an encoded vector clock)
 * as opaque bytes and asks this interface how two of them relate, so
 * `storage/` does not depend on the coordinator's versioning scheme.
 */

/**
 * How version `a` relates to version `b`. 'conflict': the same write id
 * (dot) names two different values, a broken invariant (issue 12); callers
 * keep both versions, like 'concurrent', and report it.
 */
export type Causality = 'before' | 'after' | 'equal' | 'concurrent' | 'conflict';

/** Compares two opaque clock blobs. Must be a pure function. */
export interface VersionOrder {
  compare(a: Uint8Array, b: Uint8Array): Causality;
}
