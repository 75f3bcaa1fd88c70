/**
 * A `Cluster` decorator that reports what each client request's result
 * shows to a `ClusterEventObserver` (the server's metrics): replica
 * acknowledgements from every receipt, and how many siblings each read
 * returned. The servers stay unaware of it: they are given the decorated
 * cluster and call it as they would the real one.
 *
 * What it cannot see (hints stored or replayed, read repairs, compactions,
 * phi, hints pending) happens inside the node threads; it reaches the
 * metrics from `cluster.status()` at scrape time instead.
 *
 * Counts come from the receipt as the coordinator returned it: the acks that
 * had arrived when the request was decided (W for a write that succeeded at
 * W, more when other replicas answered first). Replies arriving later are
 * not counted. A request that fails reports nothing: the error carries no
 * receipt.
 *
 * Thread contract: the thread that opened the wrapped cluster.
 */
import type { Bytes, Cluster, GetManyEntry, GetManyOutcome, PutManyEntry, PutManyOutcome, ReadOptions, ReadResult, WriteOptions, WriteResult } from '../cluster/cluster_types.js';
import { ClusterDecorator } from './cluster_decorator.js';
import type { ClusterEventObserver } from './cluster_event_observer.js';

/** What the decorator reports to; `ServerMetrics` implements it. */
export type RequestResultObserver = Pick<ClusterEventObserver, 'replicaAcks' | 'siblingsReturned'>;

/** `cluster`, with every get/put/delete result reported to `observer`. */
export function observedCluster(cluster: Cluster, observer: RequestResultObserver): Cluster {
  return new ObservedCluster(cluster, observer);
}

class ObservedCluster extends ClusterDecorator {
  constructor(
    inner: Cluster,
    /** Where results are reported. */
    private readonly observer: RequestResultObserver,
  ) {
    super(inner);
  }

  override async put(key: Bytes, value: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.wrote(await this.inner.put(key, value, options));
  }

  override async putMany(entries: readonly PutManyEntry[]): Promise<PutManyOutcome[]> {
    const outcomes = await this.inner.putMany(entries);
    for (const outcome of outcomes) if (outcome.ok) this.wrote(outcome.result);
    return outcomes;
  }

  override async get(key: Bytes, options?: ReadOptions): Promise<ReadResult> {
    return this.read(await this.inner.get(key, options));
  }

  override async getMany(entries: readonly GetManyEntry[]): Promise<GetManyOutcome[]> {
    const outcomes = await this.inner.getMany(entries);
    for (const outcome of outcomes) if (outcome.ok) this.read(outcome.result);
    return outcomes;
  }

  private read(result: ReadResult): ReadResult {
    this.observer.replicaAcks(result.receipt.acks.length);
    this.observer.siblingsReturned(result.values.length);
    return result;
  }

  override async delete(key: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.wrote(await this.inner.delete(key, options));
  }

  private wrote(result: WriteResult): WriteResult {
    this.observer.replicaAcks(result.receipt.acks.length);
    return result;
  }
}
