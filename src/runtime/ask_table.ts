/**
 * Outstanding `ask`s of one thread: correlation id → the promise to settle,
 * with a deadline. Bounded by ASK_PENDING_MAX; a full table refuses new asks
 * with `OverloadedError` rather than growing.
 *
 * Thread contract: used by the one thread that owns it.
 */
import { OverloadedError, TimeoutError } from '../core/errors.js';
import { ASK_PENDING_MAX } from '../core/limits.js';

interface PendingAsk {
  /** What the ask is, as `open` was told: named in the errors that settle it. */
  what: string;
  /** The thread it went to (-1 when not told), so a thread's crash can settle its asks at once. */
  thread: number;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

/** Pending asks, settled by replies or by their timeout. */
export class AskTable {
  private readonly pending = new Map<number, PendingAsk>();
  private nextId: number;

  /** `firstId`: where ids start (1..2^31-1); threads pick a random start. */
  constructor(firstId = 1) {
    this.nextId = firstId;
  }

  /** Asks still waiting. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Register a new ask; `what` names it in the `TimeoutError`. Returns the
   * correlation id and the promise the caller awaits.
   */
  open<R>(what: string, timeout_ms: number, thread = -1): { id: number; promise: Promise<R> } {
    if (this.pending.size >= ASK_PENDING_MAX) {
      return { id: 0, promise: Promise.reject(new OverloadedError(`ask table (${ASK_PENDING_MAX} pending asks)`)) };
    }
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    const promise = new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TimeoutError(what, timeout_ms));
      }, timeout_ms);
      this.pending.set(id, { what, thread, resolve: resolve as (v: unknown) => void, reject, timer });
    });
    return { id, promise };
  }

  /** Settle ask `id` with a value; false if it already timed out or never existed. */
  resolve(id: number, value: unknown): boolean {
    const ask = this.take(id);
    ask?.resolve(value);
    return ask !== undefined;
  }

  /** Settle ask `id` with an error; false if it already timed out or never existed. */
  reject(id: number, err: unknown): boolean {
    const ask = this.take(id);
    ask?.reject(err);
    return ask !== undefined;
  }

  /** Reject every pending ask (thread shutting down) with the error `errorFor` makes of its name. */
  rejectAll(errorFor: (what: string) => Error): void {
    for (const [id, ask] of [...this.pending]) this.reject(id, errorFor(ask.what));
  }

  /** Reject the pending asks sent to `thread` (it died: their answers will never come). Returns how many. */
  rejectTo(thread: number, errorFor: (what: string) => Error): number {
    let count = 0;
    for (const [id, ask] of [...this.pending]) {
      if (ask.thread !== thread) continue;
      this.reject(id, errorFor(ask.what));
      count++;
    }
    return count;
  }

  private take(id: number): PendingAsk | undefined {
    const ask = this.pending.get(id);
    if (!ask) return undefined;
    clearTimeout(ask.timer);
    this.pending.delete(id);
    return ask;
  }
}
