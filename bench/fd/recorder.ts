/**
 * The failure-detector benchmark's recorder: one per node, subscribed to that
 * node's failure detector, it notes every liveness change the detector
 * publishes as (observer, member, status, at_ms).
 *
 * In the simulator every node runs on the benchmark's one thread, so the
 * recorder pushes straight into an array the harness owns (a closure). On
 * real worker threads it cannot share memory with the harness: spawned by
 * kind (`actorKinds` below) it forwards each record to a collector actor on
 * the main thread (thread 0), which is the same class built with a sink.
 *
 * Thread contract: one instance on its node's thread; the sink is called on
 * that thread.
 */
import type { Actor, ActorContext, ActorKinds, ActorRef } from '../../src/runtime/actor.js';

/** Liveness statuses, as the failure detector publishes them. */
export type RecordedStatus = 'alive' | 'suspect' | 'down' | 'left';

/** One liveness change, as one observer saw it. */
export interface LivenessRecord {
  /** Member id of the node whose detector published it. */
  observer: string;
  /** The member whose liveness changed. */
  member: string;
  status: RecordedStatus;
  /** The detector's clock at the decision (virtual ms in the simulator, Date.now() on real threads). */
  at_ms: number;
}

/** Messages the recorder understands. */
export type RecorderMsg =
  /** From the failure detector: a liveness change. */
  | { type: 'liveness'; member: string; status: RecordedStatus; at_ms: number }
  /** From a recorder on a worker thread (to the main-thread collector): a record. */
  | { type: 'liveness-record'; record: LivenessRecord };

/** How to spawn a recorder by kind. */
export interface RecorderArgs {
  /** Member id of the node it records for. */
  observer: string;
  /** Where records go when there is no sink (a collector on the main thread). */
  forward_to?: ActorRef;
}

/** Notes liveness changes into a sink, or forwards them to a collector. */
export class LivenessRecorder implements Actor<RecorderMsg> {
  constructor(
    private readonly args: RecorderArgs,
    /** Receives every record; undefined on a worker thread (records are forwarded). */
    private readonly sink?: (record: LivenessRecord) => void,
  ) {
    if (sink === undefined && args.forward_to === undefined) throw new RangeError('a recorder needs a sink or a forward_to collector');
  }

  receive(msg: RecorderMsg, ctx: ActorContext<RecorderMsg>): void {
    switch (msg.type) {
      case 'liveness':
        this.note({ observer: this.args.observer, member: msg.member, status: msg.status, at_ms: msg.at_ms }, ctx);
        return;
      case 'liveness-record':
        this.note(msg.record, ctx);
        return;
      default: {
        const never: never = msg;
        throw new Error(`recorder got an unknown message ${JSON.stringify(never)}`);
      }
    }
  }

  private note(record: LivenessRecord, ctx: ActorContext<RecorderMsg>): void {
    if (this.sink !== undefined) this.sink(record);
    else if (this.args.forward_to !== undefined) ctx.send(this.args.forward_to, { type: 'liveness-record', record });
  }
}

/** Kind name of the recorder, for spawn specs on worker threads. */
export const RECORDER_KIND = 'fd-recorder';

/** The recorder by kind, as worker threads load it (it forwards; a sink cannot cross threads). */
export const actorKinds: ActorKinds = {
  [RECORDER_KIND]: (args) => new LivenessRecorder(args as RecorderArgs),
};
