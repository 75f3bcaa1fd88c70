/**
 * A coordinator request's wait for its quorum: replies go in through
 * `record`, and `done` settles with the tracker's first decisive outcome, or
 * with 'timeout' when the deadline timer fires first (the timer is cancelled
 * once the outcome is decided).
 *
 * Thread contract: belongs to the one coordinator actor running the request.
 */
import type { QuorumOutcome, QuorumTracker, ReplicaReply } from '../src/core/quorum.js';
import type { TimerHandle } from '../src/runtime/actor.js';

/** A request's wait for its quorum, bounded by its deadline. */
export class QuorumWait {
  readonly done: Promise<QuorumOutcome | 'timeout'>;
  private settle!: (outcome: QuorumOutcome | 'timeout') => void;
  private readonly timer: TimerHandle;

  constructor(
    readonly tracker: QuorumTracker,
    timeout_ms: number,
    sleep: (ms: number) => { promise: Promise<void>; handle: TimerHandle },
  ) {
    this.done = new Promise((resolve) => (this.settle = resolve));
    const deadline = sleep(timeout_ms);
    this.timer = deadline.handle;
    void deadline.promise.then(() => this.settle('timeout'));
    this.check(tracker.outcome());
  }

  record(reply: ReplicaReply): void {
    this.check(this.tracker.record(reply));
  }

  private check(outcome: QuorumOutcome): void {
    if (outcome.status === 'pending') return;
    this.timer.cancel();
    this.settle(outcome);
  }
}

