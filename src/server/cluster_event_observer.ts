/**
 * The seam between cluster figures and metrics: reports of what the cluster
 * did, which `metrics.ts` turns into Prometheus series without the cluster
 * depending on prom-client.
 *
 * Who calls it: the server, never the cluster. What happens inside the
 * node threads comes from status samples: at scrape time `ServerMetrics`
 * reads `cluster.status()` (through its `StatusCache`), turns each node's
 * cumulative `counters` into increments (`readRepairs`, `hintsStored`,
 * `hintsReplayed`, `compactions`, `dotConflicts`; see `counter_deltas.ts`) and each node's
 * `phi` per peer into `setPhi`. What each request's result shows
 * (`replicaAcks`, `siblingsReturned`) comes from the `observedCluster`
 * decorator around the cluster the surfaces use.
 *
 * Every method is cheap and synchronous, and is called on the main thread.
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
  /** Some node's storage met one dot naming two values `count` times (issue 12: a broken invariant). */
  dotConflicts(count: number): void;
  /** Node `observer`'s phi-accrual detector (Hayashibara 2004) now rates `peer` at `phi`. */
  setPhi(observer: string, peer: string, phi: number): void;
}
