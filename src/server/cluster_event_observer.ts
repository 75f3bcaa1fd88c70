/**
 * The seam between the cluster layer and metrics: the cluster (coordinators,
 * hint replayers, compaction, failure detectors) reports what it did through
 * this interface, and `metrics.ts` turns the reports into Prometheus series.
 * The cluster depends on this type only, never on prom-client; a cluster
 * opened without an observer reports nothing.
 *
 * Every method is cheap and synchronous, and is called on the main thread
 * (events from worker threads are forwarded there by the cluster layer).
 */

/** Receives the cluster's internal events. Counts are non-negative integers. */
export interface ClusterEventObserver {
  /** `count` replica acknowledgements arrived at a coordinator (reads and writes). */
  replicaAcks(count: number): void;
  /** A coordinator sent `count` read-repair writes to stale replicas. */
  readRepairs(count: number): void;
  /** A read returned `siblings` sibling values (0 for an absent key). */
  siblingsReturned(siblings: number): void;
  /** `count` hints were stored for an unreachable owner (Dynamo 2007 §4.6). */
  hintsStored(count: number): void;
  /** `count` hints were delivered to their owner and dropped. */
  hintsReplayed(count: number): void;
  /** `count` compactions finished on some node's storage engine. */
  compactions(count: number): void;
  /** Node `observer`'s phi-accrual detector (Hayashibara 2004) now rates `peer` at `phi`. */
  setPhi(observer: string, peer: string, phi: number): void;
}
