/**
 * Batches the server's writes through the cluster: every `put` and `delete`
 * issued in one event-loop turn (a RESP pipeline's SETs, MSET's keys, DELs,
 * and the single writes of many connections that arrived together) goes out
 * as one `Cluster.putMany`, which sends one message per coordinator instead
 * of one per write. A batch is sent at the end of the turn (`setImmediate`,
 * after every microtask of the commands that queued into it), or at once
 * when it reaches WRITE_BATCH_MAX writes.
 *
 * Each write still succeeds or fails on its own, with its own receipt;
 * batching changes the number of messages, not the semantics of a write.
 * Reads and everything else go straight to the wrapped cluster.
 *
 * Thread contract: the server's event loop only.
 */
import type { Bytes, Cluster, PutManyEntry, WriteOptions, WriteResult } from '../cluster/cluster_types.js';
import { ClusterDecorator } from './cluster_decorator.js';
import { WRITE_BATCH_MAX } from '../core/limits.js';

/** A write waiting for its batch. */
interface Queued {
  entry: PutManyEntry;
  resolve(result: WriteResult): void;
  reject(err: Error): void;
}

/** `cluster` with its single writes batched per event-loop turn. */
export function batchedWrites(cluster: Cluster, max = WRITE_BATCH_MAX): Cluster {
  return new WriteBatcher(cluster, max);
}

class WriteBatcher extends ClusterDecorator {
  private queue: Queued[] = [];
  private scheduled: ReturnType<typeof setImmediate> | null = null;

  constructor(
    inner: Cluster,
    private readonly max: number,
  ) {
    super(inner);
  }

  override put(key: Bytes, value: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.enqueue({ key, value, ...(options ? { options } : {}) });
  }

  override delete(key: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.enqueue({ key, value: null, ...(options ? { options } : {}) });
  }

  override async close(): Promise<void> {
    this.flush();
    await this.inner.close();
  }

  private enqueue(entry: PutManyEntry): Promise<WriteResult> {
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      if (this.queue.length >= this.max) this.flush();
      else this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Send what is queued as one batch. */
  private flush(): void {
    if (this.scheduled !== null) clearImmediate(this.scheduled);
    this.scheduled = null;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    this.inner.putMany(batch.map((q) => q.entry)).then(
      (outcomes) =>
        outcomes.forEach((outcome, i) => {
          const queued = batch[i]!;
          if (outcome.ok) queued.resolve(outcome.result);
          else queued.reject(outcome.error);
        }),
      (err: unknown) => {
        for (const queued of batch) queued.reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }
}
