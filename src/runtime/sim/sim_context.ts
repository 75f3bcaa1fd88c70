/**
 * The simulator's `ActorContext`: what one incarnation of one actor sees. It
 * forwards every effect to the world (`SimHost`) and answers `now()` and
 * `random()` from its node's clock (virtual time plus the node's skew) and
 * the actor's own seeded PRNG.
 *
 * A context belongs to one incarnation. After a crash or a restart it is
 * dead: `send` returns false, `ask` never settles, timers are not scheduled
 * and logs are discarded, so leftover async code of a lost instance cannot
 * act on the world (as code of a killed thread cannot).
 *
 * `reply` answers the message being handled *synchronously* in `receive`;
 * code that replies after an `await` must take a `replier()` first.
 *
 * Thread contract: used by the one thread that runs the simulation.
 */
import { AssertionError } from '../../core/assert.js';
import type { Prng } from '../../core/prng.js';
import type { ActorContext, ActorRef, Logger, Message, Replier, TimerHandle } from '../actor.js';
import type { ActorCell } from './actor_cell.js';

/** The message being handled and how to answer it. */
export interface Delivery {
  /** Sending actor (the actor itself for its timers); undefined for messages injected by the test. */
  readonly from: ActorRef | undefined;
  /** The node the message came from (where a reply must go). */
  readonly fromNode: number;
  /** Id of the `ask` this message belongs to, if it is one. */
  readonly askId: number | undefined;
  /** The message's `type`, for errors and the trace. */
  readonly type: string;
  /** Set once the ask has been answered (by `reply` or a replier). */
  replied: boolean;
}

/** The world as seen by a context. */
export interface SimHost {
  /** Virtual time in ms. */
  now(): number;
  /** Virtual time in ms as node `node`'s clock reads it (skewed by the node's offset, see SimWorld.setClockSkew). */
  nodeNow(node: number): number;
  send(from: ActorCell, to: ActorRef, msg: Message): boolean;
  ask<R>(from: ActorCell, to: ActorRef, msg: Message, timeout_ms: number | undefined): Promise<R>;
  /** Send `value` (an Error rejects the asker) back to the asker of `delivery`. */
  reply(from: ActorCell, delivery: Delivery, value: unknown): void;
  schedule(cell: ActorCell, delay_ms: number, msg: Message): TimerHandle;
}

/** A timer handle that does nothing (returned to dead contexts). */
const NO_TIMER: TimerHandle = { cancel: () => undefined };

/** The `ActorContext` of one incarnation of one simulated actor. */
export class SimContext<M extends Message = Message> implements ActorContext<M> {
  /** The message being handled synchronously right now, if any. */
  current: Delivery | undefined = undefined;

  constructor(
    private readonly host: SimHost,
    private readonly cell: ActorCell,
    /** The incarnation this context belongs to. */
    readonly incarnation: number,
    private readonly prng: Prng,
    readonly log: Logger,
  ) {}

  get self(): ActorRef {
    return this.cell.ref;
  }

  /** True while this context's incarnation is the actor's live one. */
  get alive(): boolean {
    return this.cell.incarnation === this.incarnation && this.cell.instance !== undefined;
  }

  send(to: ActorRef, msg: Message): boolean {
    if (!this.alive) return false;
    return this.host.send(this.cell, to, msg);
  }

  ask<R = unknown>(to: ActorRef, msg: Message, timeout_ms?: number): Promise<R> {
    if (!this.alive) return new Promise<R>(() => undefined); // a lost instance's ask never settles
    return this.host.ask<R>(this.cell, to, msg, timeout_ms);
  }

  reply(value: unknown): void {
    const delivery = this.current;
    if (delivery === undefined || delivery.askId === undefined) {
      // As in the real runtime: replying to a plain send, or after an await without a replier, is a bug.
      throw new AssertionError('assertion failed: reply() while handling an unanswered ask (after an await, use replier())');
    }
    this.answer(delivery, value);
  }

  replier(): Replier | undefined {
    const delivery = this.current;
    if (delivery === undefined || delivery.askId === undefined) return undefined;
    return {
      ok: (value: unknown) => this.answer(delivery, value),
      fail: (err: unknown) => this.answer(delivery, err instanceof Error ? err : new Error(String(err))),
    };
  }

  sender(): ActorRef | undefined {
    return this.current?.from;
  }

  schedule(delay_ms: number, msg: M): TimerHandle {
    if (!this.alive) return NO_TIMER;
    return this.host.schedule(this.cell, delay_ms, msg);
  }

  now(): number {
    return this.host.nodeNow(this.cell.ref.thread);
  }

  random(): number {
    return this.prng.next();
  }

  private answer(delivery: Delivery, value: unknown): void {
    if (delivery.replied) {
      throw new AssertionError(`assertion failed: ask of type ${delivery.type} answered twice`);
    }
    delivery.replied = true;
    if (this.alive) this.host.reply(this.cell, delivery, value);
  }
}
