/**
 * The order of one connection's cluster requests. A pipeline's commands are
 * issued to the cluster concurrently (the transport batches them), except
 * where that would change what Redis semantics promise a single connection:
 * a request on a key waits for this connection's earlier *writes* of that key
 * (read-your-writes within a pipeline; two SETs of a key land in order), and
 * a write waits for the earlier reads of the key too. Reads of one key run
 * together. Requests on different keys never wait for each other.
 *
 * At most `maxInFlight` requests run at once; the rest queue (the queue is
 * bounded by what the connection may have parsed: RESP_PIPELINE_MAX_COMMANDS
 * requests of at most RESP_ARRAY_MAX_ELEMENTS keys).
 *
 * Thread contract: one instance per connection, used from the event loop.
 */
import { assert } from '../core/assert.js';

/** Where one key's requests stand. */
interface KeyQueue {
  /** Settles when the latest write queued for the key is done. */
  lastWrite: Promise<void> | null;
  /** Reads queued since that write. */
  reads: Promise<void>[];
  /** Requests queued or running on the key (the entry is dropped at 0). */
  pending: number;
}

/** Orders and bounds one connection's cluster requests. */
export class RequestOrder {
  private readonly keys = new Map<string, KeyQueue>();
  /** Requests running now. */
  private running = 0;
  /** Requests waiting for a free slot, oldest first. */
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly maxInFlight: number) {
    assert(maxInFlight >= 1, 'at least one request may run');
  }

  /** Requests running or waiting. */
  get size(): number {
    return this.running + this.waiting.length;
  }

  /** Run `call`, a read of `key`, once this connection's earlier writes of the key are done. */
  read<T>(key: Buffer, call: () => Promise<T>): Promise<T> {
    return this.enqueue(key, 'read', call);
  }

  /** Run `call`, a write of `key`, once this connection's earlier requests on the key are done. */
  write<T>(key: Buffer, call: () => Promise<T>): Promise<T> {
    return this.enqueue(key, 'write', call);
  }

  private enqueue<T>(key: Buffer, kind: 'read' | 'write', call: () => Promise<T>): Promise<T> {
    const name = key.toString('latin1');
    let queue = this.keys.get(name);
    if (queue === undefined) {
      queue = { lastWrite: null, reads: [], pending: 0 };
      this.keys.set(name, queue);
    }
    const before: Promise<unknown> | null =
      kind === 'read' ? queue.lastWrite : queue.reads.length > 0 ? Promise.all([queue.lastWrite, ...queue.reads]) : queue.lastWrite;
    const result = before === null ? this.gated(call) : before.then(() => this.gated(call));
    const done = result.then(
      () => undefined,
      () => undefined,
    );
    if (kind === 'read') queue.reads.push(done);
    else {
      queue.lastWrite = done;
      queue.reads = [];
    }
    queue.pending += 1;
    const entry = queue;
    void done.then(() => {
      entry.pending -= 1;
      if (entry.pending === 0 && this.keys.get(name) === entry) this.keys.delete(name);
    });
    return result;
  }

  /** Run `call` when a slot is free; a finishing request hands its slot straight to the oldest waiter. */
  private async gated<T>(call: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxInFlight) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await call();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running -= 1;
    }
  }
}
