/**
 * What the simulator keeps for one spawned actor across its lives: its
 * address, how to rebuild it (factory and args), the live instance and its
 * context, its pending timers, and its restart history for supervision.
 *
 * An actor's *incarnation* counts its lives. A crash of its node or a
 * supervision restart ends the current incarnation: everything tagged with
 * the old number (timers, asks, the old context) is dead from then on, which
 * is how stale callbacks of a lost instance are kept from acting.
 *
 * Thread contract: used by the one thread that runs the simulation.
 */
import type { Actor, ActorFactory, ActorRef, Message } from '../actor.js';
import type { SimContext } from './sim_context.js';
import { RestartBudget } from '../restart_budget.js';

/** A scheduled timer of one incarnation. */
export interface TimerEntry {
  /** Set by `cancel`, by a restart or by a crash; the event is then skipped. */
  cancelled: boolean;
}

/** The simulator's record of one actor. */
export class ActorCell {
  /** Current life; bumped by every crash and restart. */
  incarnation = 0;
  /** The live instance, undefined while its node is down or once stopped. */
  instance: Actor<Message> | undefined = undefined;
  /** The context of the current incarnation. */
  ctx: SimContext | undefined = undefined;
  /** Stopped for good by supervision (too many restarts) until its node restarts. */
  stopped = false;
  /** Timers of the current incarnation that have not fired or been cancelled. */
  readonly timers = new Set<TimerEntry>();
  /** Recent supervision restarts, on virtual time (the one policy: restart_budget.ts). */
  readonly restarts = new RestartBudget();

  constructor(
    /** The actor's address. */
    readonly ref: ActorRef,
    /** Registry kind name, or "<factory>" when spawned from a bare factory. */
    readonly kind: string,
    /** Builds a fresh instance at spawn and at every restart. */
    readonly factory: ActorFactory<Message>,
    /** Arguments given to `factory` every time. */
    readonly args: unknown,
  ) {}

  /** End the current incarnation: cancel its timers, forget the instance. */
  endIncarnation(): void {
    for (const timer of this.timers) timer.cancelled = true;
    this.timers.clear();
    this.incarnation++;
    this.instance = undefined;
    this.ctx = undefined;
  }
}
