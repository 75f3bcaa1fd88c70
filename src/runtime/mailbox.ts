/**
 * A bounded FIFO mailbox: a growable circular array with a hard capacity.
 * `push` returns false when full (backpressure), it never grows past the cap.
 *
 * Thread contract: used by the one thread that hosts the actor.
 */
import { assert } from '../core/assert.js';

/** Bounded FIFO queue. */
export class BoundedQueue<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    assert(capacity > 0, 'queue capacity is positive');
    this.items = new Array<T | undefined>(Math.min(capacity, 16));
  }

  get length(): number {
    return this.count;
  }

  /** Append `item`; false when the queue is at capacity. */
  push(item: T): boolean {
    if (this.count >= this.capacity) return false;
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) % this.items.length] = item;
    this.count++;
    return true;
  }

  /** Remove and return the oldest item, or undefined when empty. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    return item;
  }

  /** Remove and return every item, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  private grow(): void {
    const size = Math.min(this.capacity, this.items.length * 2);
    const next = new Array<T | undefined>(size);
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) % this.items.length];
    this.items = next;
    this.head = 0;
  }
}
