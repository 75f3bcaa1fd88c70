/**
 * A coordinator request's wait for its quorum: replies go in through
 * `record`, and `done` settles with the tracker's first decisive outcome, or
 * with 'timeout' when the deadline timer fires first (the timer is cancelled
 * once the outcome is decided). `BatchWait` does the same for a batch's
 * requests under one timer.
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

/** A request of a batch: its tracker, its own wait once it left the batch's deadline, and whether it is decided. */
export interface BatchMember {
  readonly tracker: QuorumTracker;
  own: QuorumWait | null;
  decided: boolean;
}

/**
 * The quorum waits of a batch's requests (issue 14): one deadline timer for
 * all of them instead of one each. Replies go in through `record`; each
 * request is decided once (its quorum's first decisive outcome, or the
 * deadline). A request that must go on alone (a replica to retry, a
 * fallback to try) takes `ownWait`: from then on its own wait, with what is
 * left of the batch's time, decides it.
 */
export class BatchWait<M extends BatchMember> {
  private undecided: number;
  private readonly begun: number;
  private readonly deadline: { promise: Promise<void>; handle: TimerHandle };

  constructor(
    members: readonly M[],
    private readonly timeout_ms: number,
    private readonly sleep: (ms: number) => { promise: Promise<void>; handle: TimerHandle },
    private readonly now: () => number,
    /** Called once per member, with its outcome. */
    private readonly decide: (member: M, outcome: QuorumOutcome | 'timeout') => void,
  ) {
    this.undecided = members.length;
    this.begun = now();
    this.deadline = sleep(timeout_ms);
    void this.deadline.promise.then(() => {
      for (const member of members) if (member.own === null) this.finish(member, 'timeout');
    });
  }

  record(member: M, reply: ReplicaReply): void {
    if (member.own !== null) return member.own.record(reply);
    const outcome = member.tracker.record(reply);
    if (outcome.status !== 'pending') this.finish(member, outcome);
  }

  /** `member`'s own wait (made on first call), bounded by what is left of the batch's time. */
  ownWait(member: M): QuorumWait {
    if (member.own === null) {
      const own = new QuorumWait(member.tracker, Math.max(1, this.timeout_ms - (this.now() - this.begun)), this.sleep);
      member.own = own;
      void own.done.then((outcome) => this.finish(member, outcome));
    }
    return member.own;
  }

  private finish(member: M, outcome: QuorumOutcome | 'timeout'): void {
    if (member.decided) return;
    member.decided = true;
    if (--this.undecided === 0) this.deadline.handle.cancel();
    this.decide(member, outcome);
  }
}

