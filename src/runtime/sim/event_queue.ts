/**
 * The simulator's pending-event queue: a binary min-heap ordered by
 * (virtual time, sequence number). The sequence number is assigned at push
 * and grows by one each time, so two events due at the same virtual time
 * come out in the order they were scheduled: the order is total and depends
 * only on what was pushed, never on the heap's internal layout. That is what
 * makes a seed replay the same run.
 *
 * Bounded: a push beyond `capacity` (SIM_QUEUE_MAX by default) throws, since
 * an unbounded queue in a simulation means a runaway workload.
 *
 * Thread contract: used by the one thread that runs the simulation.
 */
import { assert } from '../../core/assert.js';
import { SIM_QUEUE_MAX } from '../../core/limits.js';

/** One entry: its due time, its tie-breaking sequence number, and its payload. */
export interface QueuedEvent<T> {
  /** Virtual time (ms) at which the event is due. */
  readonly time_ms: number;
  /** Push order; breaks ties between events due at the same time. */
  readonly seq: number;
  readonly payload: T;
}

/** A bounded priority queue of events ordered by (time_ms, seq). */
export class EventQueue<T> {
  /** Heap-ordered entries; index 0 is the earliest. */
  private readonly heap: QueuedEvent<T>[] = [];
  /** Sequence number given to the next push. */
  private nextSeq = 0;

  constructor(readonly capacity: number = SIM_QUEUE_MAX) {
    assert(Number.isInteger(capacity) && capacity > 0, 'event queue capacity is a positive integer');
  }

  /** Number of queued events. */
  get size(): number {
    return this.heap.length;
  }

  /** Queue `payload` at `time_ms`; returns the entry. Throws when the queue is full. */
  push(time_ms: number, payload: T): QueuedEvent<T> {
    assert(Number.isFinite(time_ms), 'event time is a finite number');
    if (this.heap.length >= this.capacity) {
      throw new Error(
        `simulator event queue is full (${this.capacity} events, SIM_QUEUE_MAX): ` +
          'the workload schedules events faster than it consumes them; bound it or raise the limit',
      );
    }
    const entry: QueuedEvent<T> = { time_ms, seq: this.nextSeq++, payload };
    this.heap.push(entry);
    this.siftUp(this.heap.length - 1);
    return entry;
  }

  /** The earliest event without removing it, or undefined when empty. */
  peek(): QueuedEvent<T> | undefined {
    return this.heap[0];
  }

  /** Remove and return the earliest event, or undefined when empty. */
  pop(): QueuedEvent<T> | undefined {
    const top = this.heap[0];
    const last = this.heap.pop();
    if (top === undefined || last === undefined) return undefined;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Every queued payload, in no particular order (for inspection). */
  *payloads(): IterableIterator<T> {
    for (const entry of this.heap) yield entry.payload;
  }

  private siftUp(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(index: number): void {
    let i = index;
    const n = this.heap.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let best = i;
      if (left < n && this.less(left, best)) best = left;
      if (right < n && this.less(right, best)) best = right;
      if (best === i) return;
      this.swap(i, best);
      i = best;
    }
  }

  private less(i: number, j: number): boolean {
    const a = this.heap[i];
    const b = this.heap[j];
    assert(a !== undefined && b !== undefined, 'heap indices in range');
    return a.time_ms < b.time_ms || (a.time_ms === b.time_ms && a.seq < b.seq);
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i];
    const b = this.heap[j];
    assert(a !== undefined && b !== undefined, 'heap indices in range');
    this.heap[i] = b;
    this.heap[j] = a;
  }
}
