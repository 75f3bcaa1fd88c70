/**
 * Actor lifecycles in the simulator, with the same supervision as the real
 * runtime: an actor whose `receive` (or `started`) throws, or whose returned
 * promise rejects, is restarted with fresh state from its factory. The
 * failure is logged; an `ask` that the failed message carried and that was
 * not answered yet gets the error as its reply. Messages still queued for the
 * actor are kept. Its timers and its own outstanding asks belong to the lost
 * instance and are cancelled (`started` of the new one re-arms what it needs).
 * More than ACTOR_RESTARTS_MAX restarts within ACTOR_RESTART_WINDOW_MS stop
 * the actor for good (until its node restarts).
 *
 * Each incarnation gets its own PRNG, seeded from the world seed, the
 * actor's address and the incarnation number, so its `random()` stream does
 * not depend on what other actors draw or on spawn order.
 *
 * Thread contract: used by the one thread that runs the simulation.
 */
import { assert } from '../../core/assert.js';
import { toErrorRecord } from '../../core/errors.js';
import { hashString32 } from '../../core/hash.js';
import { ACTOR_RESTARTS_MAX, ACTOR_RESTART_WINDOW_MS } from '../../core/limits.js';
import { Prng } from '../../core/prng.js';
import type { Message } from '../actor.js';
import { refName } from '../actor.js';
import type { ActorCell } from './actor_cell.js';
import type { AskTable } from './ask_table.js';
import { type Delivery, type SimHost, SimContext } from './sim_context.js';
import type { SimLogBook } from './sim_log.js';
import type { Arrival } from './sim_transport.js';
import { stableHash } from './stable_hash.js';
import type { TraceKind } from './trace.js';

/** What the supervisor needs from the world. */
export interface SupervisorDeps {
  readonly seed: number;
  now(): number;
  readonly logs: SimLogBook;
  readonly asks: AskTable;
  /** The world as actor contexts see it. */
  readonly host: SimHost;
  record(kind: TraceKind, from: string, to: string, type: string, hash: string): void;
}

/** Starts, runs, restarts and kills simulated actors. */
export class Supervisor {
  constructor(private readonly deps: SupervisorDeps) {}

  /** Begin a new incarnation of `cell`: fresh instance from its factory, then `started`. */
  start(cell: ActorCell): void {
    assert(cell.instance === undefined, 'an actor is started only when it has no live instance');
    const incarnation = cell.incarnation;
    const name = refName(cell.ref);
    const prng = new Prng(hashString32(`${this.deps.seed}/${name}/${incarnation}`));
    const log = this.deps.logs.logger(name, () => cell.incarnation === incarnation && cell.instance !== undefined);
    const ctx = new SimContext(this.deps.host, cell, incarnation, prng, log);
    cell.instance = cell.factory(cell.args);
    cell.ctx = ctx;
    let result: unknown;
    try {
      result = cell.instance.started?.(ctx);
    } catch (err) {
      this.fail(cell, incarnation, err, undefined);
      return;
    }
    this.watch(cell, incarnation, result, undefined);
  }

  /** Hand an arrived message to its actor (nothing when it was lost on the way). */
  deliver(arrival: Arrival | undefined, msg: Message): void {
    if (arrival !== undefined) this.dispatch(arrival.cell, msg, arrival.delivery);
  }

  /** Run `receive` of the live instance of `cell` on `msg`; a throw or rejection restarts it. */
  dispatch(cell: ActorCell, msg: Message, delivery: Delivery): void {
    const instance = cell.instance;
    const ctx = cell.ctx;
    assert(instance !== undefined && ctx !== undefined, 'a message is dispatched only to a live actor');
    const incarnation = cell.incarnation;
    ctx.current = delivery;
    let result: unknown;
    try {
      result = instance.receive(msg, ctx);
    } catch (err) {
      ctx.current = undefined;
      this.fail(cell, incarnation, err, delivery);
      return;
    }
    ctx.current = undefined;
    this.watch(cell, incarnation, result, delivery);
  }

  /** The node of `cell` crashed: the instance, its timers and its asks are gone, without `stopped`. */
  kill(cell: ActorCell): void {
    this.deps.asks.cancelOwnedBy(cell);
    cell.endIncarnation();
    cell.restarts.reset();
  }

  private watch(cell: ActorCell, incarnation: number, result: unknown, delivery: Delivery | undefined): void {
    if (!isPromiseLike(result)) return;
    result.then(undefined, (err: unknown) => this.fail(cell, incarnation, err, delivery));
  }

  /** Incarnation `incarnation` of `cell` failed with `err` while handling `delivery` (undefined: in `started`). */
  private fail(cell: ActorCell, incarnation: number, err: unknown, delivery: Delivery | undefined): void {
    if (cell.incarnation !== incarnation || cell.instance === undefined) return; // that life already ended
    const name = refName(cell.ref);
    const during = delivery === undefined ? 'started' : delivery.type;
    const record = toErrorRecord(err);
    this.deps.logs.write('error', name, `actor failed in ${during}: restarting it with fresh state`, { error: record });
    if (delivery !== undefined && delivery.askId !== undefined && !delivery.replied) {
      delivery.replied = true;
      this.deps.host.reply(cell, delivery, err instanceof Error ? err : new Error(String(err)));
    }
    this.deps.asks.cancelOwnedBy(cell);
    // As in the real host: the failed instance may release what it holds (files, pools) before its successor starts.
    try {
      cell.instance.stopped?.();
    } catch (stopErr) {
      this.deps.logs.write('warn', name, 'stopped() of the failed instance threw', { error: toErrorRecord(stopErr) });
    }
    cell.endIncarnation();
    if (cell.restarts.fail(this.deps.now()) === 'stop') {
      cell.stopped = true;
      this.deps.record('stop', '', name, during, stableHash(record));
      this.deps.logs.write('error', name, `actor failed ${ACTOR_RESTARTS_MAX + 1} times within ${ACTOR_RESTART_WINDOW_MS} ms: stopped`);
      return;
    }
    this.deps.record('supervise', '', name, during, stableHash(record));
    this.start(cell);
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
