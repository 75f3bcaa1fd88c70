/**
 * Batches the server's requests through the cluster, per event-loop turn:
 * every `put` and `delete` issued in one turn (a RESP pipeline's SETs,
 * MSET's keys, DELs, and the single writes of many connections that arrived
 * together) goes out as one `Cluster.putMany`, and every `get` (a
 * pipeline's GETs, MGET's keys, many clients' GETs) as one
 * `Cluster.getMany`: one message per coordinator instead of one per
 * request. A batch is sent at the end of the turn (`setImmediate`, after
 * every microtask of the commands that queued into it), or at once when it
 * reaches its limit (WRITE_BATCH_MAX, READ_BATCH_MAX).
 *
 * Each request still succeeds or fails on its own, with its own receipt;
 * batching changes the number of messages, not the semantics of a request.
 * Everything else goes straight to the wrapped cluster.
 *
 * Thread contract: the server's event loop only.
 */
import type { Bytes, Cluster, GetManyEntry, PutManyEntry, ReadOptions, ReadResult, WriteOptions, WriteResult } from '../cluster/cluster_types.js';
import { ClusterDecorator } from './cluster_decorator.js';
import { READ_BATCH_MAX, WRITE_BATCH_MAX } from '../core/limits.js';

/** `cluster` with its single writes and reads batched per event-loop turn. */
export function batchedRequests(cluster: Cluster, limits: { writes?: number; reads?: number } = {}): Cluster {
  return new TurnBatcher(cluster, limits.writes ?? WRITE_BATCH_MAX, limits.reads ?? READ_BATCH_MAX);
}

/** Requests of one kind waiting for the end of the turn. */
class Queue<Entry, Result> {
  private entries: Entry[] = [];
  private waiters: { resolve(result: Result): void; reject(err: Error): void }[] = [];
  private scheduled: ReturnType<typeof setImmediate> | null = null;

  constructor(
    private readonly max: number,
    /** Send a batch: one outcome per entry, in order. */
    private readonly send: (entries: Entry[]) => Promise<({ ok: true; result: Result } | { ok: false; error: Error })[]>,
  ) {}

  add(entry: Entry): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.entries.push(entry);
      this.waiters.push({ resolve, reject });
      if (this.entries.length >= this.max) this.flush();
      else this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Send what is queued as one batch. */
  flush(): void {
    if (this.scheduled !== null) clearImmediate(this.scheduled);
    this.scheduled = null;
    if (this.entries.length === 0) return;
    const entries = this.entries;
    const waiters = this.waiters;
    this.entries = [];
    this.waiters = [];
    this.send(entries).then(
      (outcomes) => {
        for (let i = 0; i < waiters.length; i++) {
          const outcome = outcomes[i]!;
          if (outcome.ok) waiters[i]!.resolve(outcome.result);
          else waiters[i]!.reject(outcome.error);
        }
      },
      (err: unknown) => {
        for (const waiter of waiters) waiter.reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }
}

class TurnBatcher extends ClusterDecorator {
  private readonly writes: Queue<PutManyEntry, WriteResult>;
  private readonly reads: Queue<GetManyEntry, ReadResult>;

  constructor(inner: Cluster, maxWrites: number, maxReads: number) {
    super(inner);
    this.writes = new Queue(maxWrites, (entries) => this.inner.putMany(entries));
    this.reads = new Queue(maxReads, (entries) => this.inner.getMany(entries));
  }

  override put(key: Bytes, value: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.writes.add({ key, value, ...(options ? { options } : {}) });
  }

  override delete(key: Bytes, options?: WriteOptions): Promise<WriteResult> {
    return this.writes.add({ key, value: null, ...(options ? { options } : {}) });
  }

  override get(key: Bytes, options?: ReadOptions): Promise<ReadResult> {
    return this.reads.add({ key, ...(options ? { options } : {}) });
  }

  override async close(): Promise<void> {
    this.writes.flush();
    this.reads.flush();
    await this.inner.close();
  }
}
