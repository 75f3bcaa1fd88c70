/**
 * Outstanding `ask`s of one thread: correlation id → the promise to settle,
 * with a deadline. Bounded by ASK_PENDING_MAX; a full table refuses new asks
 * with `OverloadedError` rather than growing.
 *
 * Deadlines without a timer per ask (issue 14: no per-request timers): each
 * ask joins the bucket of its deadline rounded up to ASK_DEADLINE_TICK_MS,
 * and one timer per table is armed for the earliest bucket. A settled ask
 * leaves its bucket; when the timer fires, every ask of every bucket due is
 * rejected with its TimeoutError, and the timer is armed for the next bucket.
 * So an ask times out between its deadline and one tick after it. The timer
 * is cleared whenever no ask is pending, so an idle thread is not kept alive.
 *
 * Thread contract: used by the one thread that owns it.
 */
import { OverloadedError, TimeoutError } from '../core/errors.js';
import { ASK_DEADLINE_TICK_MS, ASK_PENDING_MAX } from '../core/limits.js';

/** What an ask is, for its errors: built only when one is needed. */
export type AskName = string | (() => string);

interface PendingAsk {
  /** What the ask is, as `open` was told: named in the errors that settle it. */
  name: AskName;
  /** The thread it went to (-1 when not told), so a thread's crash can settle its asks at once. */
  thread: number;
  /** The thread of the actor that asked (-1 when not told), so that thread's crash can forget its asks. */
  owner: number;
  timeout_ms: number;
  /** Its deadline bucket (deadline / ASK_DEADLINE_TICK_MS, rounded up). */
  tick: number;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/** Pending asks, settled by replies or by their deadline. */
export class AskTable {
  private readonly pending = new Map<number, PendingAsk>();
  /** Deadline buckets: tick → ids of the asks due then. */
  private readonly buckets = new Map<number, Set<number>>();
  /** The ticks of `buckets`, ascending. */
  private readonly ticks: number[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** The tick `timer` fires for (Infinity: none armed). */
  private armedTick = Number.POSITIVE_INFINITY;
  private nextId: number;

  /** `firstId`: where ids start (1..2^31-1); threads pick a random start. `now`: a monotonic clock in ms. */
  constructor(
    firstId = 1,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.nextId = firstId;
  }

  /** Asks still waiting. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Register a new ask; `name` names it in the `TimeoutError` (a function is
   * called only then). Returns the correlation id and the promise the caller
   * awaits.
   */
  open<R>(name: AskName, timeout_ms: number, thread = -1, owner = -1): { id: number; promise: Promise<R> } {
    if (this.pending.size >= ASK_PENDING_MAX) {
      return { id: 0, promise: Promise.reject(new OverloadedError(`ask table (${ASK_PENDING_MAX} pending asks)`)) };
    }
    const id = this.nextId;
    this.nextId = this.nextId >= 0x7fffffff ? 1 : this.nextId + 1;
    const tick = Math.ceil((this.now() + timeout_ms) / ASK_DEADLINE_TICK_MS);
    const promise = new Promise<R>((resolve, reject) => {
      this.pending.set(id, { name, thread, owner, timeout_ms, tick, resolve: resolve as (v: unknown) => void, reject });
    });
    let bucket = this.buckets.get(tick);
    if (bucket === undefined) {
      bucket = new Set();
      this.buckets.set(tick, bucket);
      this.ticks.splice(this.tickIndex(tick), 0, tick);
    }
    bucket.add(id);
    if (tick < this.armedTick) this.arm(tick);
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
    for (const [id, ask] of [...this.pending]) this.reject(id, errorFor(nameOf(ask)));
  }

  /** Reject the pending asks sent to `thread` (it died: their answers will never come). Returns how many. */
  rejectTo(thread: number, errorFor: (what: string) => Error): number {
    let count = 0;
    for (const [id, ask] of [...this.pending]) {
      if (ask.thread !== thread) continue;
      this.reject(id, errorFor(nameOf(ask)));
      count++;
    }
    return count;
  }

  /**
   * Forget the asks of actors on thread `owner` without settling them: their
   * thread crashed, and nothing of a crashed actor runs again, so the code
   * waiting on them must never resume. Returns how many.
   */
  forgetFrom(owner: number): number {
    let count = 0;
    for (const [id, ask] of [...this.pending]) {
      if (ask.owner !== owner) continue;
      this.take(id);
      count++;
    }
    return count;
  }

  private take(id: number): PendingAsk | undefined {
    const ask = this.pending.get(id);
    if (!ask) return undefined;
    this.pending.delete(id);
    const bucket = this.buckets.get(ask.tick)!;
    bucket.delete(id);
    if (bucket.size === 0) {
      this.buckets.delete(ask.tick);
      this.ticks.splice(this.tickIndex(ask.tick), 1);
    }
    if (this.pending.size === 0) this.disarm();
    return ask;
  }

  /** Reject every ask whose bucket is due, then arm for the next bucket. */
  private fire(): void {
    this.timer = null;
    this.armedTick = Number.POSITIVE_INFINITY;
    const dueTick = Math.floor(this.now() / ASK_DEADLINE_TICK_MS);
    while (this.ticks.length > 0 && this.ticks[0]! <= dueTick) {
      const tick = this.ticks.shift()!;
      const ids = this.buckets.get(tick)!;
      this.buckets.delete(tick);
      for (const id of ids) {
        const ask = this.pending.get(id)!;
        this.pending.delete(id);
        ask.reject(new TimeoutError(nameOf(ask), ask.timeout_ms));
      }
    }
    if (this.ticks.length > 0) this.arm(this.ticks[0]!);
  }

  private arm(tick: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.armedTick = tick;
    this.timer = setTimeout(() => this.fire(), Math.max(0, tick * ASK_DEADLINE_TICK_MS - this.now()));
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.armedTick = Number.POSITIVE_INFINITY;
  }

  /** Where `tick` is, or goes, in `ticks` (binary search). */
  private tickIndex(tick: number): number {
    let lo = 0;
    let hi = this.ticks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ticks[mid]! < tick) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function nameOf(ask: PendingAsk): string {
  return typeof ask.name === 'string' ? ask.name : ask.name();
}
