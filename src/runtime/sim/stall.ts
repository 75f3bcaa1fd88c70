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
 * stall ends, `end` gives the held events back in the order they were popped,
 * which is their original (virtual time, push order), and the world carries
 * them out at once, before anything else, at the end time of the stall:
 * timers that came due during it fire late, messages arrive in order.
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

/** One node's current stall. */
interface Stall {
  /** Virtual time at which the node runs again. */
  until_ms: number;
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
   * Stall `node` until `until_ms` (or extend its current stall to it); returns
   * the generation its end event must carry. The caller checked that this
   * does not shorten a stall in force.
   */
  begin(node: number, until_ms: number): number {
    const generation = this.nextGeneration++;
    const current = this.stalls.get(node);
    if (current !== undefined) {
      assert(until_ms >= current.until_ms, 'a stall is only ever extended');
      current.until_ms = until_ms;
      current.generation = generation;
    } else {
      this.stalls.set(node, { until_ms, generation, held: [] });
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
   * held events in original order, or undefined when the end event is stale.
   */
  end(node: number, generation: number): SimEvent[] | undefined {
    const stall = this.stalls.get(node);
    if (stall === undefined || stall.generation !== generation) return undefined;
    return this.release(node, stall);
  }

  /** End `node`'s stall now, whatever its generation (its node crashed); returns what it held. */
  endNow(node: number): SimEvent[] {
    const stall = this.stalls.get(node);
    return stall === undefined ? [] : this.release(node, stall);
  }

  private release(node: number, stall: Stall): SimEvent[] {
    this.stalls.delete(node);
    this.heldTotal -= stall.held.length;
    assert(this.heldTotal >= 0, 'held event count never goes negative');
    return stall.held;
  }
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
