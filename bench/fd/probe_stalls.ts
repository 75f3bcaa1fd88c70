/**
 * The `stall_probe` scenario's stalls: the observer's event loop freezes
 * while it has a SWIM probe in flight, the case Lifeguard's local health
 * awareness is built for (Lifeguard 2017, §3: a slow member that misses the
 * ack of its own probe blames the healthy target).
 *
 * A random stall (the `stall` scenario) almost never starts inside that
 * window: a probe waits for its ack for one round trip (1–4 ms here) once per
 * 500 ms period. So this module starts each stall from what the simulation
 * does, deterministically:
 *
 *   1. after a gap drawn from the seed (scenarios.ts), the stall is *armed*;
 *   2. the observer's detector is wrapped (`watchProbes`): when it sets the
 *      timeout of a direct probe (`probe_timeout`, set in the same step that
 *      sends the ping) while armed, the stall is scheduled
 *      PROBE_STALL_DELAY_MS later, shorter than any round trip, so the ack
 *      cannot have arrived yet;
 *   3. at that moment the stall starts (timers-first release, as Node) if the
 *      probe's ack has indeed not been received; if it has, the stall stays
 *      armed for the next probe (counted in `skipped_acked`).
 *
 * A detector that never probes (heartbeat, phi) is stalled as soon as the
 * stall is armed, and an observer whose next probe does not come within
 * PROBE_WAIT_MAX_MS when the wait ends (both counted in `without_probe`), so
 * every detector faces the same stall lengths and gaps. Durations and gaps come from the seed;
 * start times depend on the detector's own probes, so they differ by
 * detector (the actual spans are returned and used as the ground truth).
 *
 * The wrapper only observes: it passes every message, send and timer
 * through unchanged, so the detector behaves as it would unwrapped.
 *
 * Thread contract: runs on the simulator's one thread.
 */
import { assert } from '../../src/core/assert.js';
import type { Actor, ActorContext, Message } from '../../src/runtime/actor.js';
import { DEFAULT_FAULTS, type SimWorld, type StallRelease } from '../../src/runtime/sim/index.js';
import type { StallSpan } from './metrics.js';

/**
 * Delay from the probe's send to the start of the stall: below the smallest
 * round trip (2 × the simulator's minimum one-way latency, 0.5 ms), so the
 * ack is still on its way when the observer freezes.
 */
export const PROBE_STALL_DELAY_MS = 0.25;
/** Longest wait for an armed observer's next probe before it is stalled anyway. */
export const PROBE_WAIT_MAX_MS = 10_000;

if (!(PROBE_STALL_DELAY_MS < 2 * DEFAULT_FAULTS.latency_ms[0])) throw new Error('PROBE_STALL_DELAY_MS must be shorter than the minimum round trip');

/** One stall of the plan: armed `gap_ms` after the previous one ended (or the plan's start). */
export interface ProbeStallStep {
  gap_ms: number;
  duration_ms: number;
}

/** What happened to the plan's stalls, for `details`. */
export interface ProbeStallCounts {
  /** Stalls started. */
  started: number;
  /** Of `started`: begun while a direct probe of the observer had no ack yet. */
  with_probe_in_flight: number;
  /** Of `started`: begun with no probe seen: when armed (heartbeat and phi send none) or at the end of the wait. */
  without_probe: number;
  /** Probes passed over because their ack came before the stall could start (re-armed for the next). */
  skipped_acked: number;
  /** Plan steps left over: a stall would not have ended before `end_ms` (the plan draws more steps than a run can use). */
  steps_unused: number;
}

/** Runs one observer's probe-triggered stalls. */
export class ProbeStaller {
  /** The actual stall spans, the ground truth for metrics. */
  readonly spans: StallSpan[] = [];
  readonly counts: ProbeStallCounts = { started: 0, with_probe_in_flight: 0, without_probe: 0, skipped_acked: 0, steps_unused: 0 };
  /** Index in `steps` of the stall armed or about to be; `steps.length` when done. */
  private step = 0;
  /** True between arming and the stall's start (or its scheduling after a probe). */
  private armed = false;
  /** Seq of the probe a stall is scheduled for; its ack cancels that stall. */
  private pending_seq: number | undefined = undefined;
  /** True when the ack of `pending_seq` was received. */
  private pending_acked = false;

  constructor(
    private readonly world: SimWorld,
    /** The observer (simulated node) that stalls. */
    private readonly node: number,
    /** Its member id, as in the truth. */
    private readonly member: string,
    private readonly steps: readonly ProbeStallStep[],
    private readonly release: StallRelease,
    /** False for detectors that send no probes (heartbeat, phi): each stall starts when armed. */
    private readonly probes: boolean,
    /** No stall may end after this virtual time. */
    private readonly end_ms: number,
  ) {}

  /** Arm the first stall `gap_ms` after `start_ms`. */
  start(start_ms: number): void {
    this.armAfter(start_ms);
  }

  /** Called by the wrapped detector when it sets the timeout of direct probe `seq` (its ping was just sent). */
  onProbeSent(seq: number): void {
    if (!this.armed) return;
    this.armed = false;
    this.pending_seq = seq;
    this.pending_acked = false;
    this.world.at(this.world.now() + PROBE_STALL_DELAY_MS, `probe stall t${this.node}`, () => this.startIfInFlight(seq));
  }

  /** Called by the wrapped detector for every ack it receives. */
  onAck(seq: number): void {
    if (seq === this.pending_seq) this.pending_acked = true;
  }

  private startIfInFlight(seq: number): void {
    if (this.pending_seq !== seq) return;
    this.pending_seq = undefined;
    if (this.pending_acked) {
      this.counts.skipped_acked++;
      this.armed = true;
      return;
    }
    this.counts.with_probe_in_flight++;
    this.stallNow();
  }

  /** The wait for a probe ended: stall now if that stall is still armed. */
  private waitEnded(step: number): void {
    if (!this.armed || this.step !== step) return;
    this.armed = false;
    this.counts.without_probe++;
    this.stallNow();
  }

  private stallNow(): void {
    const s = this.steps[this.step];
    if (s === undefined) throw new Error('a probe stall starts only while a step is armed');
    const now_ms = this.world.now();
    if (now_ms + s.duration_ms > this.end_ms) {
      this.finish();
      return;
    }
    assert(this.world.isUp(this.node) && !this.world.isStalled(this.node), 'the observer is up and not stalled between its probe stalls');
    this.world.stall(this.node, s.duration_ms, { release: this.release });
    this.spans.push({ member: this.member, start_ms: now_ms, end_ms: now_ms + s.duration_ms });
    this.counts.started++;
    this.step++;
    this.armAfter(now_ms + s.duration_ms);
  }

  /** Arm the next step after its gap, from `from_ms`, with the wait that follows. */
  private armAfter(from_ms: number): void {
    const s = this.steps[this.step];
    if (s === undefined) return;
    const arm_ms = from_ms + s.gap_ms;
    if (arm_ms + s.duration_ms > this.end_ms) {
      this.finish();
      return;
    }
    const step = this.step;
    this.world.at(arm_ms, `arm probe stall t${this.node}`, () => {
      this.armed = true;
      if (!this.probes) this.waitEnded(step);
    });
    if (this.probes) this.world.at(arm_ms + PROBE_WAIT_MAX_MS, `probe stall wait end t${this.node}`, () => this.waitEnded(step));
  }

  /** Stop: the remaining steps do not run. */
  private finish(): void {
    this.counts.steps_unused += this.steps.length - this.step;
    this.step = this.steps.length;
    this.armed = false;
  }
}

/**
 * Wrap a failure-detector actor so that `staller` sees its direct probes
 * (a `probe_timeout` SWIM timer being set) and the acks it receives. Every
 * call is passed through unchanged.
 */
export function watchProbes<M extends Message>(inner: Actor<M>, staller: ProbeStaller): Actor<M> {
  let wrapped: { of: ActorContext<M>; ctx: ActorContext<M> } | undefined;
  const wrap = (ctx: ActorContext<M>): ActorContext<M> => {
    if (wrapped?.of !== ctx) wrapped = { of: ctx, ctx: observingContext(ctx, staller) };
    return wrapped.ctx;
  };
  return {
    started: (ctx) => inner.started?.(wrap(ctx)),
    receive: (msg, ctx) => {
      const ackSeq = swimAckSeq(msg);
      if (ackSeq !== undefined) staller.onAck(ackSeq);
      return inner.receive(msg, wrap(ctx));
    },
    stopped: () => inner.stopped?.(),
  };
}

/** `ctx` with `schedule` watched for probe timeouts; everything else delegated. */
function observingContext<M extends Message>(ctx: ActorContext<M>, staller: ProbeStaller): ActorContext<M> {
  return {
    self: ctx.self,
    send: (to, msg) => ctx.send(to, msg),
    ask: (to, msg, timeout_ms) => ctx.ask(to, msg, timeout_ms),
    reply: (value) => ctx.reply(value),
    replier: () => ctx.replier(),
    sender: () => ctx.sender(),
    schedule: (delay_ms, msg) => {
      const handle = ctx.schedule(delay_ms, msg);
      const seq = probeTimeoutSeq(msg);
      if (seq !== undefined) staller.onProbeSent(seq);
      return handle;
    },
    now: () => ctx.now(),
    random: () => ctx.random(),
    log: ctx.log,
  };
}

/** The seq of a `{ type: 'swim-timer', timer: { type: 'probe_timeout', seq } }` timer, else undefined. */
function probeTimeoutSeq(msg: Message): number | undefined {
  return msg.type === 'swim-timer' ? nestedSeq(msg['timer'], 'probe_timeout') : undefined;
}

/** The seq of a `{ type: 'swim', message: { type: 'ack', seq } }` message, else undefined. */
function swimAckSeq(msg: Message): number | undefined {
  return msg.type === 'swim' ? nestedSeq(msg['message'], 'ack') : undefined;
}

function nestedSeq(inner: unknown, type: string): number | undefined {
  if (typeof inner !== 'object' || inner === null) return undefined;
  const record = inner as { type?: unknown; seq?: unknown };
  return record.type === type && typeof record.seq === 'number' ? record.seq : undefined;
}
