/**
 * Hosts the actors of one thread: their bounded mailboxes, a fair dispatch
 * loop, `ask` correlation, timers and supervision. Messages to actors on this
 * thread go straight into mailboxes; messages to other threads go to the
 * `Transport` (SAB rings), so a sender never needs to know where a ref lives.
 *
 * Supervision: an actor whose `receive` throws (or whose returned promise
 * rejects) is restarted with fresh state from its factory and the failure is
 * logged; the ask it was handling is answered with the error. More than
 * ACTOR_RESTARTS_MAX restarts within ACTOR_RESTART_WINDOW_MS stop the actor
 * for good (every queued ask is answered with an error).
 *
 * Partitions: a worker thread's host may be given `BlockLists` (see
 * partition.ts); every cross-thread envelope passes `sendRemote` or
 * `onBatch`, where those to or from a blocked peer are dropped and counted
 * as `partitionDrops`. A dropped send still reports accepted and a dropped
 * ask times out at the asker, as on a real network.
 *
 * Thread contract: everything here runs on the hosting thread only.
 */
import { assert } from '../core/assert.js';
import { fromErrorRecord, IndeterminateError, InvalidRequestError, notHandledError, OverloadedError, toErrorRecord, type ErrorRecord } from '../core/errors.js';
import {
  ACTOR_RESTART_WINDOW_MS,
  ACTOR_RESTARTS_MAX,
  ACTOR_TIMERS_MAX,
  ASK_DEFAULT_TIMEOUT_MS,
  DISPATCH_TURN_MAX_MESSAGES,
  INBOUND_PAUSE_QUEUED_MESSAGES,
  MAILBOX_CAPACITY,
} from '../core/limits.js';
import type { Actor, ActorContext, ActorKinds, ActorRef, Logger, Message, Replier, SpawnSpec, TimerHandle } from './actor.js';
import { refName } from './actor.js';
import { AskTable } from './ask_table.js';
import { EnvelopeKind, type Envelope } from './envelope.js';
import { makeLogger, type LogSink } from './logger.js';
import { BoundedQueue } from './mailbox.js';
import { LinkBlocks, type BlockLists } from './partition.js';
import type { Transport, TransportSink } from './transport.js';
import type { CorruptionError } from '../core/errors.js';

/** Delay before a timer message refused by a full mailbox is offered again. */
const TIMER_RETRY_MS = 10;

/** Messages one actor handles before the dispatcher moves to the next (fairness). */
const ACTOR_SLICE_MESSAGES = 64;

/** One hosted actor and its runtime state. */
interface Cell {
  /** Address of the actor. */
  ref: ActorRef;
  /** Registry kind and factory args, kept to rebuild the actor on restart. */
  spec: SpawnSpec;
  /** The current instance (replaced on restart). */
  actor: Actor;
  /** Bumped at each restart so late failures of an old instance are ignored. */
  incarnation: number;
  ctx: ActorContext;
  mailbox: BoundedQueue<Envelope>;
  /** True while the cell sits in the run queue. */
  queued: boolean;
  timers: Set<ReturnType<typeof setTimeout>>;
  /** Times (ms) of recent restarts, for the restart budget. */
  restarts: number[];
  /** The envelope being handled, for `reply` and `sender`. */
  current: Envelope | undefined;
  stopped: boolean;
}

/** Counters for tests and metrics. */
export interface HostStats {
  delivered: number;
  restarts: number;
  deadLetters: number;
  corruptFrames: number;
  /** Cross-thread envelopes dropped because their link is partitioned (either end). */
  partitionDrops: number;
}

/** The actors of one thread. */
export class ActorHost implements TransportSink {
  readonly stats: HostStats = { delivered: 0, restarts: 0, deadLetters: 0, corruptFrames: 0, partitionDrops: 0 };
  readonly log: Logger;
  private readonly cells = new Map<string, Cell>();
  private readonly runQueue: Cell[] = [];
  private turnScheduled = false;
  /** Messages waiting in all mailboxes of this thread. */
  private queued = 0;
  private inTurn = false;
  private transport: Transport | undefined;
  /** Partitioned links of this worker thread; undefined until blocked, and always on thread 0. */
  private blocks: LinkBlocks | undefined;
  /**
   * Ask ids start at a random point per thread incarnation, so a late reply
   * meant for a thread that died cannot settle an ask of its successor.
   */
  private readonly asks = new AskTable(1 + Math.floor(Math.random() * 0x3fffffff));

  constructor(
    readonly thread: number,
    private readonly kinds: ActorKinds,
    private readonly sink: LogSink,
  ) {
    this.log = makeLogger(`t${thread}/runtime`, sink);
  }

  /** Connect the transport used for other threads. */
  attach(transport: Transport): void {
    this.transport = transport;
  }

  /** Replace this worker thread's blocked peers (empty lists heal it). Never called on thread 0. */
  setBlockLists(lists: BlockLists): void {
    this.blocks ??= new LinkBlocks(this.thread, this.remote().threadCount);
    this.blocks.replace(lists);
  }

  /** Create an actor from the registry; its id must be new on this thread. */
  spawn(spec: SpawnSpec): ActorRef {
    assert(!this.cells.has(spec.id), `actor id '${spec.id}' is unused on thread ${this.thread}`);
    const factory = this.kinds[spec.kind];
    if (!factory) throw new InvalidRequestError(`unknown actor kind '${spec.kind}' on thread ${this.thread}`);
    const ref: ActorRef = { thread: this.thread, id: spec.id };
    const cell: Cell = {
      ref,
      spec,
      actor: factory(spec.args),
      incarnation: 0,
      ctx: undefined as unknown as ActorContext, // set just below: the context closes over the cell
      mailbox: new BoundedQueue<Envelope>(MAILBOX_CAPACITY),
      queued: false,
      timers: new Set(),
      restarts: [],
      current: undefined,
      stopped: false,
    };
    cell.ctx = this.makeContext(cell);
    this.cells.set(spec.id, cell);
    this.start(cell);
    return ref;
  }

  /** Stop an actor: cancel its timers, answer its queued asks with an error. */
  stop(id: string): void {
    const cell = this.cells.get(id);
    if (!cell) return;
    this.retire(cell, `actor ${refName(cell.ref)} stopped`);
    try {
      cell.actor.stopped?.();
    } catch (err) {
      this.log.warn('stopped() threw', { actor: refName(cell.ref), error: String(err) });
    }
  }

  /** Stop every actor and fail every pending ask (thread shutdown). */
  shutdown(): void {
    for (const id of [...this.cells.keys()]) this.stop(id);
    // These asks were sent: whether their targets acted on them is unknown, so the error says so (no raw Error).
    this.asks.rejectAll((what) => new IndeterminateError(what, `thread ${this.thread} shut down before the answer came`));
  }

  /**
   * Crash every actor: no `stopped()`, timers cancelled, queued and pending
   * asks failed; resolves when every actor's `crashed()` (native handles
   * only) has settled. See `Actor.crashed`.
   */
  async crashAll(): Promise<void> {
    const releases: Promise<void>[] = [];
    for (const cell of [...this.cells.values()]) {
      this.retire(cell, `thread ${this.thread} crashed`);
      try {
        const released = cell.actor.crashed?.();
        if (released) releases.push(released.catch((err: unknown) => this.log.warn('crashed() failed', { actor: refName(cell.ref), error: errorText(err) })));
      } catch (err) {
        this.log.warn('crashed() threw', { actor: refName(cell.ref), error: errorText(err) });
      }
    }
    this.asks.rejectAll((what) => new IndeterminateError(what, `thread ${this.thread} crashed before the answer came`));
    await Promise.all(releases);
  }

  /**
   * Thread `thread` died: fail this thread's asks to it now rather than at
   * their deadlines. Whether it acted on them is unknown (it may have stored
   * a write and died before answering), so each gets `IndeterminateError`;
   * the cluster client turns that into a retryable error for a read.
   */
  failAsksTo(thread: number, why: string): number {
    return this.asks.rejectTo(thread, (what) => new IndeterminateError(what, why));
  }

  /** Refs of the actors hosted here. */
  actorIds(): string[] {
    return [...this.cells.keys()];
  }

  /** Send from outside any actor (or from `from`). False on backpressure. */
  send(from: ActorRef | undefined, to: ActorRef, msg: Message): boolean {
    if (to.thread === this.thread) return this.enqueue({ k: EnvelopeKind.Send, to: to.id, ft: this.thread, fi: from?.id ?? '', a: 0, m: msg });
    return this.sendRemote(to.thread, EnvelopeKind.Send, 0, to.id, from?.id ?? '', msg);
  }

  /** Ask from outside any actor (or from `from`). */
  ask<R>(from: ActorRef | undefined, to: ActorRef, msg: Message, timeout_ms = ASK_DEFAULT_TIMEOUT_MS): Promise<R> {
    const { id, promise } = this.asks.open<R>(() => `ask to ${refName(to)} (type=${msg.type})`, timeout_ms, to.thread);
    if (id === 0) return promise;
    const accepted =
      to.thread === this.thread
        ? this.enqueue({ k: EnvelopeKind.Ask, to: to.id, ft: this.thread, fi: from?.id ?? '', a: id, m: msg })
        : this.sendRemote(to.thread, EnvelopeKind.Ask, id, to.id, from?.id ?? '', msg);
    if (!accepted) {
      const gone = to.thread === this.thread && !this.cells.has(to.id);
      this.asks.reject(id, gone ? notHandledError(`ask to ${refName(to)} (type=${msg.type})`, `no actor '${to.id}' on thread ${this.thread}: it has stopped`) : new OverloadedError(`queue towards ${refName(to)}`));
    }
    return promise;
  }

  // --- TransportSink -------------------------------------------------------

  canAccept(): boolean {
    return this.queued <= INBOUND_PAUSE_QUEUED_MESSAGES;
  }

  onBatch(from: number, batch: Envelope[]): void {
    if (this.blocks?.blocksInbound(from)) {
      this.stats.partitionDrops += batch.length;
      return;
    }
    for (const env of batch) this.accept(env);
  }

  onDrained(): void {
    this.runTurn();
  }

  onUndeliverable(dest: number, env: Envelope, reason: Error): void {
    this.stats.deadLetters++;
    this.log.error('message could not be delivered', { dest, to: env.to, kind: env.k, reason: reason.message });
    // It never reached its thread, so nothing was done: a typed error, retryable unless the message itself was refused (too large).
    if (env.k === EnvelopeKind.Ask && env.ft === this.thread) {
      this.asks.reject(env.a, reason instanceof InvalidRequestError ? reason : notHandledError(`ask to t${dest}/${env.to} (type=${(env.m as Message).type})`, reason.message));
    }
  }

  onCorruption(err: CorruptionError): void {
    this.stats.corruptFrames++;
    this.log.error('corrupt frame discarded', { error: err.message });
  }

  // --- delivery ------------------------------------------------------------

  /** The transport, for messages to other threads. */
  private remote(): Transport {
    assert(this.transport !== undefined, 'transport attached before cross-thread sends');
    return this.transport;
  }

  /**
   * Every envelope to another thread leaves here. One to a partitioned peer
   * is dropped yet reported accepted: the sender cannot tell a lost message
   * from a slow one.
   */
  private sendRemote(dest: number, k: EnvelopeKind, a: number, to: string, fi: string, m: unknown): boolean {
    if (this.blocks?.blocksOutbound(dest)) {
      this.stats.partitionDrops++;
      return true;
    }
    return this.remote().sendParts(dest, k, a, to, fi, m);
  }

  /** Handle an envelope that arrived from another thread. */
  private accept(env: Envelope): void {
    if (env.k === EnvelopeKind.Reply) {
      if (!this.asks.resolve(env.a, env.m)) this.log.debug('late reply dropped', { ask: env.a });
      return;
    }
    if (env.k === EnvelopeKind.ReplyError) {
      if (!this.asks.reject(env.a, fromErrorRecord(env.m as ErrorRecord))) this.log.debug('late reply dropped', { ask: env.a });
      return;
    }
    if (this.enqueue(env)) return;
    // A full or missing mailbox: the sender is on another thread, tell it.
    this.stats.deadLetters++;
    const cell = this.cells.get(env.to);
    const err = cell
      ? new OverloadedError(`mailbox of ${refName(cell.ref)} (${MAILBOX_CAPACITY} messages)`)
      : // Retryable: on a running cluster this is an actor that stopped or a thread crashing (the request was not handled).
        notHandledError(`ask to t${this.thread}/${env.to} (type=${(env.m as Message).type})`, `no actor '${env.to}' on thread ${this.thread}: it was never spawned or has stopped`);
    if (env.k === EnvelopeKind.Ask) this.answer(env, EnvelopeKind.ReplyError, toErrorRecord(err));
    else this.log.error('message refused', { to: env.to, error: err.message });
  }

  /** Put an envelope in its local mailbox; false if full or no such actor. */
  private enqueue(env: Envelope): boolean {
    const cell = this.cells.get(env.to);
    if (!cell || cell.stopped) return false;
    if (!cell.mailbox.push(env)) return false;
    this.queued++;
    if (!cell.queued) {
      cell.queued = true;
      this.runQueue.push(cell);
    }
    if (!this.inTurn && !this.turnScheduled) {
      this.turnScheduled = true;
      queueMicrotask(this.turnTask);
    }
    return true;
  }

  private readonly turnTask = (): void => this.runTurn();

  /** Dispatch up to DISPATCH_TURN_MAX_MESSAGES, round-robin over actors. */
  private runTurn(): void {
    if (this.inTurn) return;
    this.inTurn = true;
    this.turnScheduled = false;
    let budget = DISPATCH_TURN_MAX_MESSAGES;
    let head = 0;
    while (budget > 0 && head < this.runQueue.length) {
      const cell = this.runQueue[head++]!;
      for (let n = 0; n < ACTOR_SLICE_MESSAGES && budget > 0 && !cell.stopped; n++) {
        const env = cell.mailbox.shift();
        if (!env) break;
        budget--;
        this.queued--;
        this.handle(cell, env);
      }
      if (cell.mailbox.length > 0 && !cell.stopped) this.runQueue.push(cell);
      else cell.queued = false;
    }
    this.runQueue.splice(0, head);
    this.inTurn = false;
    this.transport?.flush();
    if (this.runQueue.length > 0 && !this.turnScheduled) {
      // Out of budget: let timers and I/O run before the next turn.
      this.turnScheduled = true;
      setImmediate(this.turnTask);
    }
  }

  /** Run one message through an actor, supervising the outcome. */
  private handle(cell: Cell, env: Envelope): void {
    this.stats.delivered++;
    const incarnation = cell.incarnation;
    if (env.inc !== undefined && env.inc !== incarnation) {
      // A timer of an instance that crashed: its successor arms its own.
      this.log.debug('timer message of a replaced instance dropped', { actor: refName(cell.ref) });
      return;
    }
    cell.current = env;
    try {
      const result = cell.actor.receive(env.m as Message, cell.ctx);
      // A rejection answers the ask being handled (if still open) and restarts the actor.
      if (result !== undefined) result.catch((err: unknown) => this.crash(cell, incarnation, err, env.a > 0 ? env : undefined));
    } catch (err) {
      this.crash(cell, incarnation, err, env);
    } finally {
      cell.current = undefined;
    }
  }

  // --- supervision -----------------------------------------------------------

  private start(cell: Cell): void {
    try {
      cell.actor.started?.(cell.ctx);
    } catch (err) {
      this.crash(cell, cell.incarnation, err, undefined);
    }
  }

  private crash(cell: Cell, incarnation: number, err: unknown, env: Envelope | undefined): void {
    const actor = refName(cell.ref);
    if (cell.stopped || incarnation !== cell.incarnation) {
      this.log.warn('late failure of a replaced actor instance ignored', { actor, error: String(err) });
      return;
    }
    this.log.error('actor crashed; restarting it with fresh state', { actor, error: errorText(err) });
    if (env && env.k === EnvelopeKind.Ask && env.a > 0) this.answer(env, EnvelopeKind.ReplyError, toErrorRecord(err));
    this.cancelTimers(cell);
    // The failed instance may release what it holds (files, pools) before its successor starts.
    try {
      cell.actor.stopped?.();
    } catch (stopErr) {
      this.log.warn('stopped() of the failed instance threw', { actor, error: errorText(stopErr) });
    }
    const now = performance.now();
    cell.restarts = cell.restarts.filter((t) => now - t < ACTOR_RESTART_WINDOW_MS);
    cell.restarts.push(now);
    this.stats.restarts++;
    if (cell.restarts.length > ACTOR_RESTARTS_MAX) {
      this.log.error('actor restarted too often; stopping it', { actor, restarts: cell.restarts.length });
      this.retire(cell, `actor ${actor} stopped after ${ACTOR_RESTARTS_MAX} restarts`);
      return;
    }
    cell.incarnation++;
    cell.actor = this.kinds[cell.spec.kind]!(cell.spec.args);
    this.start(cell);
  }

  /** Remove a cell for good, answering every queued ask with an error. */
  private retire(cell: Cell, why: string): void {
    cell.stopped = true;
    this.cancelTimers(cell);
    this.cells.delete(cell.ref.id);
    for (const env of cell.mailbox.drain()) {
      this.queued--;
      // Never handled, so nothing was done: a typed, retryable error crosses back (never a raw Error).
      if (env.k === EnvelopeKind.Ask) this.answer(env, EnvelopeKind.ReplyError, toErrorRecord(notHandledError(`ask to ${refName(cell.ref)} (type=${(env.m as Message).type})`, why)));
    }
  }

  private cancelTimers(cell: Cell): void {
    for (const timer of cell.timers) clearTimeout(timer);
    cell.timers.clear();
  }

  // --- replies -----------------------------------------------------------

  /** Send the answer to ask `env` back to its thread. Each ask is answered once. */
  private answer(env: Envelope, kind: EnvelopeKind.Reply | EnvelopeKind.ReplyError, value: unknown): void {
    assert(env.k === EnvelopeKind.Ask && env.a > 0, 'answer an ask that is still open');
    const askId = env.a;
    env.a = -1; // mark answered: a second reply is a programmer error
    if (env.ft === this.thread) {
      if (kind === EnvelopeKind.Reply) this.asks.resolve(askId, value);
      else this.asks.reject(askId, fromErrorRecord(value as ErrorRecord));
      return;
    }
    if (!this.sendRemote(env.ft, kind, askId, '', '', value)) {
      this.log.error('reply lost: queue towards the asking thread is full', { thread: env.ft, ask: askId });
    }
  }

  private makeContext(cell: Cell): ActorContext {
    const host = this;
    const log = makeLogger(refName(cell.ref), this.sink);
    const replyTo = (env: Envelope, value: unknown): void => {
      if (value instanceof Error) host.answer(env, EnvelopeKind.ReplyError, toErrorRecord(value));
      else host.answer(env, EnvelopeKind.Reply, value);
    };
    return {
      self: cell.ref,
      log,
      send: (to, msg) => host.send(cell.ref, to, msg),
      ask: <R>(to: ActorRef, msg: Message, timeout_ms?: number) => host.ask<R>(cell.ref, to, msg, timeout_ms),
      reply(value: unknown): void {
        const env = cell.current;
        assert(env !== undefined && env.k === EnvelopeKind.Ask && env.a > 0, 'reply() while handling an unanswered ask');
        replyTo(env, value);
      },
      replier(): Replier | undefined {
        const env = cell.current;
        if (!env || env.k !== EnvelopeKind.Ask || env.a <= 0) return undefined;
        return { ok: (value) => replyTo(env, value), fail: (err) => replyTo(env, err instanceof Error ? err : new Error(String(err))) };
      },
      sender(): ActorRef | undefined {
        const env = cell.current;
        return env && env.fi !== '' ? { thread: env.ft, id: env.fi } : undefined;
      },
      schedule(delay_ms: number, msg: Message): TimerHandle {
        assert(cell.timers.size < ACTOR_TIMERS_MAX, `actor ${refName(cell.ref)} has under ${ACTOR_TIMERS_MAX} timers`);
        const incarnation = cell.incarnation;
        let timer: ReturnType<typeof setTimeout>;
        const fire = (): void => {
          cell.timers.delete(timer);
          const env: Envelope = { k: EnvelopeKind.Send, to: cell.ref.id, ft: host.thread, fi: cell.ref.id, a: 0, m: msg, inc: incarnation };
          if (host.enqueue(env) || cell.stopped || cell.incarnation !== incarnation) return;
          // A full mailbox must not end a periodic loop for good: try again shortly (one pending retry per timer).
          log.warn('timer message refused: mailbox full; retrying', { type: msg.type });
          timer = setTimeout(fire, TIMER_RETRY_MS);
          cell.timers.add(timer);
        };
        timer = setTimeout(fire, Math.max(0, delay_ms));
        cell.timers.add(timer);
        return {
          cancel(): void {
            clearTimeout(timer);
            cell.timers.delete(timer);
          },
        };
      },
      now: () => Date.now(),
      random: () => Math.random(),
    };
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
