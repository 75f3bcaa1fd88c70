/**
 * A token bucket of bytes per second (issue 15's throttle): work is charged
 * after the fact, and new work waits while the bucket is below zero, so the
 * rate over any second stays within the limit plus the one piece of work
 * that overdrew it. The bucket holds at most one second's worth, so an idle
 * spell does not save up a burst.
 *
 * Pure: time comes from the caller. Thread contract: one owner.
 */
import { assert } from './assert.js';

export class ByteBudget {
  private tokens: number;
  private at_ms: number;

  constructor(
    /** Bytes per second. */
    private readonly rate: number,
    now_ms: number,
  ) {
    assert(Number.isFinite(rate) && rate > 0, 'a byte budget is a positive rate');
    this.tokens = rate;
    this.at_ms = now_ms;
  }

  /** Charge `bytes` of work done. */
  spend(bytes: number, now_ms: number): void {
    this.refill(now_ms);
    this.tokens -= bytes;
  }

  /** True when new work may start now. */
  available(now_ms: number): boolean {
    this.refill(now_ms);
    return this.tokens >= 0;
  }

  /** How long until new work may start (0: now). */
  waitMs(now_ms: number): number {
    this.refill(now_ms);
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000);
  }

  private refill(now_ms: number): void {
    if (now_ms > this.at_ms) {
      this.tokens = Math.min(this.rate, this.tokens + ((now_ms - this.at_ms) / 1000) * this.rate);
      this.at_ms = now_ms;
    }
  }
}
