/**
 * Stalled nodes: a node whose event loop is frozen for a while, as a long GC
 * pause or a blocked thread freezes a real one. While a node is stalled it
 * runs nothing: no message is delivered to its actors, none of its timers
 * fire, no reply or ask deadline reaches the code waiting on it, so it sends
 * nothing either. The network keeps working around it: what it sent before
 * the stall still arrives, and what is sent to it queues up (its mailboxes
 * keep counting against MAILBOX_CAPACITY, as a real ring fills up).
 *
 * The world hands every event it pops for a stalled node to `hold`; when the
 * stall ends, `end` gives the held events back and the world carries them out
 * at once, before anything else, at the end time of the stall. In which order
 * is the stall's `release` option:
 *
 *   'in-order'      (default) the order they were popped, which is their
 *                   original (virtual time, push order): timers that came due
 *                   during the stall fire late, interleaved with the messages
 *                   as they came due.
 *   'timers-first'  every held timer (actor timers and ask deadlines) first,
 *                   in due order, then every held delivery and reply, in
 *                   arrival order. This is what Node's event loop does after
 *                   a GC pause or a blocked turn: on wake its timers phase
 *                   runs every expired `setTimeout` callback before the poll
 *                   and check phases deliver pending I/O and immediates, and
 *                   the real runtime's timers and ask deadlines are
 *                   `setTimeout`s while its ring transport wakes through
 *                   `Atomics.waitAsync` / `setImmediate`. So a timeout that
 *                   came due during the pause fires before the answer that
 *                   arrived in time but was not read yet.
 *
 * Both orders are a pure function of the held events, so the same seed still
 * gives the same trace.
 *
 * Each stall has a generation so that a stall extended by a second call, or
 * cut short by a crash, leaves its original end event stale.
 *
 * Thread contract: used by the one thread that runs the simulation.
 */
import { assert } from '../../core/assert.js';
import { SIM_QUEUE_MAX } from '../../core/limits.js';
import type { AskTable } from './ask_table.js';
import type { SimEvent } from './sim_event.js';

/** In which order a stalled node's held events run when its stall ends (see the file comment). */
export type StallRelease = 'in-order' | 'timers-first';

/** Options of one stall. */
export interface StallOptions {
  /** Order of the held events at the end of the stall (default 'in-order'). */
  release?: StallRelease;
}

/** Every release order, for checking options. */
export const STALL_RELEASES: readonly StallRelease[] = ['in-order', 'timers-first'];

/** One node's current stall. */
interface Stall {
  /** Virtual time at which the node runs again. */
  until_ms: number;
  /** Order of the held events at the end (a later, longer stall's option replaces it). */
  release: StallRelease;
  /** Identifies this stall's end event (a newer stall of the node supersedes it). */
  generation: number;
  /** Events due to the node during the stall, in original order. Bounded by SIM_QUEUE_MAX (they came out of the queue). */
  readonly held: SimEvent[];
}

/** The stalls in force, per node, with the events they hold back. */
export class NodeStalls {
  private readonly stalls = new Map<number, Stall>();
  private nextGeneration = 1;
  /** Events held across every node, against SIM_QUEUE_MAX. */
  private heldTotal = 0;

  /** True while `node` is stalled. */
  isStalled(node: number): boolean {
    return this.stalls.has(node);
  }

  /** When `node`'s current stall ends, or undefined when it is not stalled. */
  until(node: number): number | undefined {
    return this.stalls.get(node)?.until_ms;
  }

  /**
   * Stall `node` until `until_ms` (or extend its current stall to it, which
   * also takes `release` for the whole stall); returns the generation its end
   * event must carry. The caller checked that this does not shorten a stall
   * in force.
   */
  begin(node: number, until_ms: number, release: StallRelease = 'in-order'): number {
    assert(STALL_RELEASES.includes(release), `stall release is one of ${STALL_RELEASES.join(', ')}`);
    const generation = this.nextGeneration++;
    const current = this.stalls.get(node);
    if (current !== undefined) {
      assert(until_ms >= current.until_ms, 'a stall is only ever extended');
      current.until_ms = until_ms;
      current.generation = generation;
      current.release = release;
    } else {
      this.stalls.set(node, { until_ms, release, generation, held: [] });
    }
    return generation;
  }

  /** Keep `event`, due to stalled `node`, until its stall ends. */
  hold(node: number, event: SimEvent): void {
    const stall = this.stalls.get(node);
    assert(stall !== undefined, 'events are held only for a stalled node');
    assert(this.heldTotal < SIM_QUEUE_MAX, 'held events stay within SIM_QUEUE_MAX');
    stall.held.push(event);
    this.heldTotal++;
  }

  /**
   * End `node`'s stall if `generation` is still its current one; returns the
   * held events in the stall's release order, or undefined when the end
   * event is stale.
   */
  end(node: number, generation: number): SimEvent[] | undefined {
    const stall = this.stalls.get(node);
    if (stall === undefined || stall.generation !== generation) return undefined;
    return this.release(node, stall);
  }

  /** End `node`'s stall now, whatever its generation (its node crashed); returns what it held, in release order. */
  endNow(node: number): SimEvent[] {
    const stall = this.stalls.get(node);
    return stall === undefined ? [] : this.release(node, stall);
  }

  private release(node: number, stall: Stall): SimEvent[] {
    this.stalls.delete(node);
    this.heldTotal -= stall.held.length;
    assert(this.heldTotal >= 0, 'held event count never goes negative');
    const ordered = releaseOrder(stall.held, stall.release);
    assert(ordered.length === stall.held.length, 'release order keeps every held event');
    return ordered;
  }
}

/**
 * `held` (in original order) in the order `release` runs them: unchanged for
 * 'in-order'; for 'timers-first' a stable partition, timers (in due order,
 * which is their original order) before deliveries and replies (in arrival
 * order).
 */
export function releaseOrder(held: readonly SimEvent[], release: StallRelease): SimEvent[] {
  if (release === 'in-order') return [...held];
  const timers: SimEvent[] = [];
  const arrivals: SimEvent[] = [];
  for (const event of held) (isTimerEvent(event) ? timers : arrivals).push(event);
  return [...timers, ...arrivals];
}

/** True for the events a real node runs from its timers phase: actor timers and ask deadlines. */
function isTimerEvent(event: SimEvent): boolean {
  return event.kind === 'timer' || event.kind === 'ask_timeout';
}

/**
 * The node whose event loop runs the code `event` triggers, or undefined for
 * world actions and for replies and deadlines of the test's own asks (the
 * test runs on no node).
 */
export function eventNode(event: SimEvent, asks: AskTable): number | undefined {
  switch (event.kind) {
    case 'deliver':
      return event.to.thread;
    case 'timer':
      return event.cell.ref.thread;
    case 'reply':
    case 'ask_timeout':
      return asks.get(event.askId)?.owner?.cell.ref.thread;
    case 'control':
      return undefined;
  }
}
