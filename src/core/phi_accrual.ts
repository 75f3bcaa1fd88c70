/**
 * The phi-accrual failure detector for one peer (Hayashibara, Défago,
 * Yared, Katayama: "The φ Accrual Failure Detector", SRDS 2004), computed as
 * Akka's `PhiAccrualFailureDetector` does.
 *
 * Instead of a yes/no verdict, the detector outputs a suspicion level
 *
 *     phi(now) = -log10( P(the next heartbeat arrives later than now) )
 *
 * from the distribution of past heartbeat inter-arrival times, modelled as a
 * normal distribution N(mean + acceptable pause, max(stddev, min stddev)).
 * phi = 1 means a 10% chance that declaring the peer dead is a mistake,
 * phi = 8 (the default threshold, as in Akka and Cassandra) one in 10^8.
 *
 * Pure: time comes in as `now_ms` arguments; there is no clock here. Not
 * shared across threads: one detector per peer, owned by one actor.
 */
import { assert } from './assert.js';
import { PHI_WINDOW_MAX_INTERVALS } from './limits.js';

/** Tunables of a phi-accrual detector; every field has an Akka-like default. */
export interface PhiConfig {
  /** phi at or above which the peer is suspected (Akka and Cassandra: 8). */
  threshold: number;
  /** Inter-arrival intervals kept; the oldest is forgotten past this (≤ PHI_WINDOW_MAX_INTERVALS). */
  window_intervals: number;
  /** Floor of the standard deviation, so a perfectly regular peer is not suspected on the first jitter. */
  min_std_dev_ms: number;
  /** Pause added to the expected interval before phi starts to rise (GC pauses, short stalls). */
  acceptable_pause_ms: number;
  /** Interval assumed before any has been measured (seeds the history, as Akka's first-heartbeat-estimate). */
  first_heartbeat_estimate_ms: number;
}

/** Defaults: Akka's, with a 0 ms acceptable pause (the period here is 500 ms, not Akka's 1 s). */
export const PHI_DEFAULTS: Readonly<PhiConfig> = {
  threshold: 8,
  window_intervals: PHI_WINDOW_MAX_INTERVALS,
  min_std_dev_ms: 100,
  acceptable_pause_ms: 0,
  first_heartbeat_estimate_ms: 1000,
};

/**
 * phi for a heartbeat `elapsed_ms` late against N(mean_ms, std_dev_ms).
 *
 * The tail probability uses the logistic approximation of the normal CDF that
 * Akka uses, Φ(y) ≈ 1 / (1 + exp(-y · (1.5976 + 0.070566 · y²))) (Bowling,
 * Khasawneh, Kaewkuekool, Cho: "A logistic approximation to the cumulative
 * normal distribution", JIEM 2009; max error 1.4e-4). Both branches are
 * written so the small probability is computed directly, not as 1 − (≈1).
 */
export function phiOf(elapsed_ms: number, mean_ms: number, std_dev_ms: number): number {
  assert(std_dev_ms > 0, 'phi needs a positive standard deviation');
  const y = (elapsed_ms - mean_ms) / std_dev_ms;
  const z = y * (1.5976 + 0.070566 * y * y);
  const e = Math.exp(-z);
  // P(later) = 1 − Φ(y) = e / (1 + e). Late: −log10(e / (1 + e)) is written as
  // z / ln 10 + log10(1 + e), the same value, which stays finite where e
  // underflows to 0 (Akka's form returns Infinity there).
  if (elapsed_ms > mean_ms) return z / Math.LN10 + Math.log10(1 + e);
  return -Math.log10(1 - 1 / (1 + e));
}

/**
 * The heartbeat history of one peer and its phi. Mean and variance are kept
 * incrementally from running sums over a ring of the last
 * `window_intervals` intervals, so `heartbeat` and `phi` are O(1).
 */
export class PhiAccrualDetector {
  /** Tunables, fixed for the detector's life. */
  readonly config: Readonly<PhiConfig>;
  /** Ring of the most recent inter-arrival intervals, in ms. */
  private readonly intervals: Float64Array;
  /** Index in `intervals` the next interval is written to. */
  private next_slot = 0;
  /** Intervals held in the ring (≤ window_intervals). */
  private count = 0;
  /** Sum of the held intervals (for the mean). */
  private sum_ms = 0;
  /** Sum of the squares of the held intervals (for the variance). */
  private sum_squares_ms2 = 0;
  /** Local time of the last heartbeat, or undefined before the first. */
  private last_heartbeat_ms: number | undefined = undefined;

  constructor(config: Partial<PhiConfig> = {}) {
    this.config = { ...PHI_DEFAULTS, ...config };
    const c = this.config;
    assert(Number.isInteger(c.window_intervals) && c.window_intervals >= 2, 'phi window holds at least 2 intervals');
    assert(c.window_intervals <= PHI_WINDOW_MAX_INTERVALS, 'phi window within PHI_WINDOW_MAX_INTERVALS');
    assert(c.min_std_dev_ms > 0 && c.acceptable_pause_ms >= 0, 'phi min std dev > 0 and acceptable pause >= 0');
    assert(c.first_heartbeat_estimate_ms > 0 && c.threshold > 0, 'phi first estimate and threshold > 0');
    this.intervals = new Float64Array(c.window_intervals);
  }

  /**
   * Record a heartbeat arriving at `now_ms`. The first one seeds the history
   * with two intervals around the first-heartbeat estimate (mean ± mean/4,
   * as Akka does). The first heartbeat after the peer was already suspected
   * is not recorded, because a long outage would skew the statistics.
   */
  heartbeat(now_ms: number): void {
    const last = this.last_heartbeat_ms;
    if (last === undefined) {
      const estimate = this.config.first_heartbeat_estimate_ms;
      this.record(estimate - estimate / 4);
      this.record(estimate + estimate / 4);
    } else {
      assert(now_ms >= last, 'heartbeat times never go backwards');
      if (this.isAvailable(now_ms)) this.record(now_ms - last);
    }
    this.last_heartbeat_ms = now_ms;
  }

  /** The suspicion level at `now_ms`: 0 before any heartbeat. */
  phi(now_ms: number): number {
    const last = this.last_heartbeat_ms;
    if (last === undefined) return 0;
    const elapsed_ms = Math.max(0, now_ms - last);
    const std = Math.max(this.stdDevMs(), this.config.min_std_dev_ms);
    return phiOf(elapsed_ms, this.meanMs() + this.config.acceptable_pause_ms, std);
  }

  /** True while phi is under the threshold (the peer is not suspected). */
  isAvailable(now_ms: number): boolean {
    return this.phi(now_ms) < this.config.threshold;
  }

  /** Mean of the held intervals, in ms (0 before the first heartbeat). */
  meanMs(): number {
    return this.count === 0 ? 0 : this.sum_ms / this.count;
  }

  /** Population standard deviation of the held intervals, in ms (before the min floor). */
  stdDevMs(): number {
    if (this.count === 0) return 0;
    const mean = this.meanMs();
    // Rounding in the running sums can leave a tiny negative variance; clamp it.
    return Math.sqrt(Math.max(0, this.sum_squares_ms2 / this.count - mean * mean));
  }

  /** Intervals currently held (≤ window_intervals). */
  sampleCount(): number {
    return this.count;
  }

  /** Local time of the last heartbeat, or undefined before the first. */
  lastHeartbeatMs(): number | undefined {
    return this.last_heartbeat_ms;
  }

  /** Push one interval, evicting the oldest when the window is full. */
  private record(interval_ms: number): void {
    assert(interval_ms >= 0, 'intervals are not negative');
    const capacity = this.intervals.length;
    if (this.count === capacity) {
      const evicted = this.intervals[this.next_slot] ?? 0;
      this.sum_ms -= evicted;
      this.sum_squares_ms2 -= evicted * evicted;
    } else {
      this.count++;
    }
    this.intervals[this.next_slot] = interval_ms;
    this.sum_ms += interval_ms;
    this.sum_squares_ms2 += interval_ms * interval_ms;
    this.next_slot = (this.next_slot + 1) % capacity;
  }
}
