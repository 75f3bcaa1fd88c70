/**
 * Hosts the actors of one OS thread: their bounded mailboxes, a fair dispatch
 * loop, `ask` correlation, timers and supervision. The actors belong to one or
 * more logical threads (`ActorRef.thread`: the main thread's, or one cluster
 * node's each); `placement` says which OS thread hosts each logical thread.
 * Messages to actors hosted here go straight into mailboxes, whichever node
 * they belong to; messages to other OS threads go to the `Transport` (SAB
 * rings), so a sender never needs to know where a ref lives.
 *
 * A logical thread crashes alone (`crashThread`): its actors are dropped
 * without `stopped()`, their timers cancelled, their pending asks forgotten
 * (never settled: no code of a crashed actor runs again), and each releases
 * what it holds natively (`Actor.crashed`: files, pools, databases). Its
 * contexts go inert (`actor_context.ts`): a late continuation of a crashed actor can neither send,
 * ask, reply nor schedule. Until it restarts (`startThread`), envelopes to it
 * are dropped unanswered (`downDrops`), as a network drops packets to a
 * dead host. Other nodes on the same OS thread run on.
 *
 * Supervision: an actor whose `receive` throws (or whose returned promise
 * rejects) is restarted with fresh state from its factory and the failure is
 * logged; the ask it was handling is answered with the error. More than
 * ACTOR_RESTARTS_MAX restarts within ACTOR_RESTART_WINDOW_MS stop the actor
 * for good (every queued ask is answered with an error).
 *
 * Partitions: a worker thread's host may be given blocked links between
 * logical threads (see partition.ts); every envelope between two logical
 * threads passes `deliverLocal`, `sendRemote` or `onBatch`, where those on a
 * blocked link are dropped and counted as `partitionDrops`. A dropped send
 * still reports accepted and a dropped ask times out at the asker, as on a
 * real network.
 *
 * Thread contract: everything here runs on the hosting thread only.
 */
import { assert } from '../core/assert.js';
import { fromErrorRecord, IndeterminateError, InvalidRequestError, notHandledError, OverloadedError, toErrorRecord, type ErrorRecord } from '../core/errors.js';
import {
  ASK_DEFAULT_TIMEOUT_MS,
  DISPATCH_TURN_MAX_MESSAGES,
  INBOUND_PAUSE_QUEUED_MESSAGES,
  MAILBOX_CAPACITY,
} from '../core/limits.js';
import type { ActorContext, ActorKinds, ActorRef, Logger, Message, SpawnSpec } from './actor.js';
import { refName } from './actor.js';
import { makeActorContext, type Cell } from './actor_context.js';
import { AskTable } from './ask_table.js';
import { RestartBudget } from './restart_budget.js';
import { routeOf } from './codec.js';
import { EnvelopeKind, type Envelope } from './envelope.js';
import { makeLogger, type LogSink } from './logger.js';
import { forwardedAway, remoteFromMain, type Gateway } from './gateway.js';
import { BoundedQueue } from './mailbox.js';
import { LinkBlocks } from './partition.js';
import type { Transport, TransportSink } from './transport.js';
import type { CorruptionError } from '../core/errors.js';

/** Messages one actor handles before the dispatcher moves to the next (fairness). */
const ACTOR_SLICE_MESSAGES = 64;

/** Counters for tests and metrics. */
export interface HostStats {
  delivered: number;
  restarts: number;
  deadLetters: number;
  corruptFrames: number;
  /** Envelopes between logical threads dropped because their link is partitioned (either end). */
  partitionDrops: number;
  /** Envelopes dropped because their logical thread is down (crashed, not yet restarted). */
  downDrops: number;
}

/** The actors of one OS thread. */
export class ActorHost implements TransportSink {
  readonly stats: HostStats = { delivered: 0, restarts: 0, deadLetters: 0, corruptFrames: 0, partitionDrops: 0, downDrops: 0 };
  readonly log: Logger;
  /** The actors of each running logical thread hosted here, by id. */
  private readonly cells = new Map<number, Map<string, Cell>>();
  private readonly runQueue: Cell[] = [];
  private turnScheduled = false;
  /** Messages waiting in all mailboxes of this thread. */
  private queued = 0;
  private inTurn = false;
  private transport: Transport | undefined;
  /** Main thread: the way to logical threads of other processes, if any. */
  private gateway: Gateway | undefined;
  /** Partitioned links with an end on this worker; undefined until blocked, and always on the main thread. */
  private blocks: LinkBlocks | undefined;
  /**
   * Ask ids start at a random point per thread incarnation, so a late reply
   * meant for a thread that died cannot settle an ask of its successor.
   */
  private readonly asks = new AskTable(1 + Math.floor(Math.random() * 0x3fffffff));

  /**
   * `worker`: this OS thread (0 = main). `placement[t]`: the OS thread
   * hosting logical thread t (the identity when every node has its own).
   * Logical threads placed here start running with `startThread`.
   */
  constructor(
    readonly worker: number,
    private readonly placement: readonly number[],
    private readonly kinds: ActorKinds,
    private readonly sink: LogSink,
  ) {
    assert(placement[0] === 0, 'logical thread 0 is the main thread');
    this.log = makeLogger(`w${worker}/runtime`, sink);
  }

  /** Main thread only: the way to node threads of other processes (`gateway.ts`). */
  setGateway(gateway: Gateway): void {
    assert(this.worker === 0, 'the main thread is the gateway to other processes');
    this.gateway = gateway;
  }

  /** Connect the transport used for other OS threads. */
  attach(transport: Transport): void {
    this.transport = transport;
  }

  /** Replace the blocked links with an end on this worker (`routeOf` codes; empty heals it). Never called on the main thread. */
  setBlockedLinks(links: readonly number[]): void {
    assert(this.worker !== 0, 'the main thread is never partitioned');
    this.blocks ??= new LinkBlocks();
    this.blocks.replace(links);
  }

  /** True while logical thread `thread` runs here. */
  runs(thread: number): boolean {
    return this.cells.has(thread);
  }

  /** Start logical thread `thread` (placed here) with no actors; a crashed one starts afresh. */
  startThread(thread: number): void {
    assert(this.placement[thread] === this.worker, `logical thread ${thread} is placed on worker ${this.worker}`);
    assert(!this.cells.has(thread), `logical thread ${thread} is not running`);
    this.cells.set(thread, new Map());
  }

  /** Create an actor from the registry on running logical thread `thread`; its id must be new there. */
  spawn(spec: SpawnSpec, thread: number): ActorRef {
    const cells = this.cells.get(thread);
    assert(cells !== undefined, `logical thread ${thread} runs on worker ${this.worker}`);
    assert(!cells.has(spec.id), `actor id '${spec.id}' is unused on thread ${thread}`);
    const factory = this.kinds[spec.kind];
    if (!factory) throw new InvalidRequestError(`unknown actor kind '${spec.kind}' on thread ${thread}`);
    const ref: ActorRef = { thread, id: spec.id };
    const cell: Cell = {
      ref,
      spec,
      actor: factory(spec.args),
      incarnation: 0,
      ctx: undefined as unknown as ActorContext, // set just below: the context closes over the cell
      mailbox: new BoundedQueue<Envelope>(MAILBOX_CAPACITY),
      queued: false,
      timers: new Set(),
      restarts: new RestartBudget(),
      current: undefined,
      stopped: false,
    };
    cell.ctx = makeActorContext(cell, this, this.sink);
    cells.set(spec.id, cell);
    this.start(cell);
    return ref;
  }

  /** Stop an actor: cancel its timers, answer its queued asks with an error. */
  stop(ref: ActorRef): void {
    const cell = this.cells.get(ref.thread)?.get(ref.id);
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
    for (const cells of [...this.cells.values()]) for (const cell of [...cells.values()]) this.stop(cell.ref);
    // These asks were sent: whether their targets acted on them is unknown, so the error says so (no raw Error).
    this.asks.rejectAll((what) => new IndeterminateError(what, `worker ${this.worker} shut down before the answer came`));
  }

  /**
   * Crash logical thread `thread` (a node crash): its actors are dropped
   * without `stopped()`, their timers cancelled, their queued asks answered
   * as not handled and their own pending asks forgotten; from now on
   * envelopes to it are dropped. Resolves when every actor's `crashed()`
   * (native handles only) has settled. See `Actor.crashed`.
   */
  async crashThread(thread: number): Promise<void> {
    const cells = this.cells.get(thread);
    if (cells === undefined) return;
    this.cells.delete(thread);
    const releases: Promise<void>[] = [];
    for (const cell of [...cells.values()]) {
      this.retire(cell, `thread ${thread} crashed`);
      try {
        const released = cell.actor.crashed?.();
        if (released) releases.push(released.catch((err: unknown) => this.log.warn('crashed() failed', { actor: refName(cell.ref), error: errorText(err) })));
      } catch (err) {
        this.log.warn('crashed() threw', { actor: refName(cell.ref), error: errorText(err) });
      }
    }
    this.asks.forgetFrom(thread);
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

  /** Send from outside any actor (from this worker's first logical thread) or from `from`. False on backpressure. */
  send(from: ActorRef | undefined, to: ActorRef, msg: Message): boolean {
    if (this.gateway?.isRemote(to.thread) === true) throw remoteFromMain(to);
    const ft = from?.thread ?? this.worker;
    const worker = this.workerOf(to.thread);
    if (worker === this.worker) return this.deliverLocal({ k: EnvelopeKind.Send, tt: to.thread, to: to.id, ft, fi: from?.id ?? '', a: 0, m: msg });
    return this.sendRemote(worker, EnvelopeKind.Send, 0, ft, to.thread, to.id, from?.id ?? '', msg);
  }

  /** Ask from outside any actor (or from `from`). */
  ask<R>(from: ActorRef | undefined, to: ActorRef, msg: Message, timeout_ms = ASK_DEFAULT_TIMEOUT_MS): Promise<R> {
    if (this.gateway?.isRemote(to.thread) === true) return Promise.reject(remoteFromMain(to));
    const ft = from?.thread ?? this.worker;
    const { id, promise } = this.asks.open<R>(() => `ask to ${refName(to)} (type=${msg.type})`, timeout_ms, to.thread, from === undefined ? -1 : ft);
    if (id === 0) return promise;
    const worker = this.workerOf(to.thread);
    const accepted =
      worker === this.worker
        ? this.deliverLocal({ k: EnvelopeKind.Ask, tt: to.thread, to: to.id, ft, fi: from?.id ?? '', a: id, m: msg })
        : this.sendRemote(worker, EnvelopeKind.Ask, id, ft, to.thread, to.id, from?.id ?? '', msg);
    if (!accepted) {
      const gone = worker === this.worker && this.cells.get(to.thread)?.has(to.id) !== true;
      this.asks.reject(id, gone ? notHandledError(`ask to ${refName(to)} (type=${msg.type})`, `no actor '${to.id}' on thread ${to.thread}: it has stopped`) : new OverloadedError(`queue towards ${refName(to)}`));
    }
    return promise;
  }

  // --- TransportSink -------------------------------------------------------

  canAccept(): boolean {
    return this.queued <= INBOUND_PAUSE_QUEUED_MESSAGES;
  }

  onBatch(_from: number, batch: Envelope[]): void {
    const blocks = this.blocks;
    for (const env of batch) {
      if (forwardedAway(this.gateway, env, () => this.stats.deadLetters++)) continue;
      if (blocks !== undefined && blocks.blocks(env.ft, env.tt)) this.stats.partitionDrops++;
      else this.accept(env);
    }
  }

  onDrained(): void {
    this.runTurn();
  }

  onUndeliverable(dest: number, env: Envelope, reason: Error): void {
    this.stats.deadLetters++;
    this.log.error('message could not be delivered', { dest, to: env.to, kind: env.k, reason: reason.message });
    // It never reached its thread, so nothing was done: a typed error, retryable unless the message itself was refused (too large).
    if (env.k === EnvelopeKind.Ask && this.workerOf(env.ft) === this.worker) {
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

  /** The OS thread hosting logical thread `thread`. */
  private workerOf(thread: number): number {
    const worker = this.placement[thread];
    assert(worker !== undefined, `logical thread ${thread} exists`);
    return worker;
  }

  /**
   * Every envelope to another OS thread leaves here. One on a partitioned
   * link is dropped yet reported accepted: the sender cannot tell a lost
   * message from a slow one.
   */
  private sendRemote(dest: number, k: EnvelopeKind, a: number, ft: number, tt: number, to: string, fi: string, m: unknown): boolean {
    if (this.blocks !== undefined && this.blocks.blocks(ft, tt)) {
      this.stats.partitionDrops++;
      return true;
    }
    return this.remote().sendParts(dest, k, a, to, fi, m, routeOf(ft, tt));
  }

  /**
   * An envelope for a logical thread hosted here, sent from here: dropped
   * (yet accepted) on a partitioned link or to a crashed thread, else queued.
   * False when its mailbox is full or its actor does not exist.
   */
  private deliverLocal(env: Envelope): boolean {
    if (env.ft !== env.tt && this.blocks !== undefined && this.blocks.blocks(env.ft, env.tt)) {
      this.stats.partitionDrops++;
      return true;
    }
    if (!this.cells.has(env.tt)) {
      this.stats.downDrops++;
      return true;
    }
    return this.enqueue(env);
  }

  /** Handle an envelope that arrived from another OS thread. */
  private accept(env: Envelope): void {
    if (env.k === EnvelopeKind.Reply) {
      if (!this.asks.resolve(env.a, env.m)) this.log.debug('late reply dropped', { ask: env.a });
      return;
    }
    if (env.k === EnvelopeKind.ReplyError) {
      if (!this.asks.reject(env.a, fromErrorRecord(env.m as ErrorRecord))) this.log.debug('late reply dropped', { ask: env.a });
      return;
    }
    if (!this.cells.has(env.tt)) {
      // Its node is down: silence, as from a dead host (the asker's deadline, or the system's crash report, answers).
      this.stats.downDrops++;
      return;
    }
    if (this.enqueue(env)) return;
    // A full or missing mailbox: the sender is on another thread, tell it.
    this.stats.deadLetters++;
    const cell = this.cells.get(env.tt)?.get(env.to);
    const err = cell
      ? new OverloadedError(`mailbox of ${refName(cell.ref)} (${MAILBOX_CAPACITY} messages)`)
      : // Retryable: on a running cluster this is an actor that stopped or a thread crashing (the request was not handled).
        notHandledError(`ask to t${env.tt}/${env.to} (type=${(env.m as Message).type})`, `no actor '${env.to}' on thread ${env.tt}: it was never spawned or has stopped`);
    if (env.k === EnvelopeKind.Ask) this.answer(env, EnvelopeKind.ReplyError, toErrorRecord(err));
    else this.log.error('message refused', { to: env.to, error: err.message });
  }

  /** Put an envelope in its local mailbox; false if full or no such actor. @internal (actor_context.ts: timers) */
  enqueue(env: Envelope): boolean {
    const cell = this.cells.get(env.tt)?.get(env.to);
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
    this.stats.restarts++;
    if (cell.restarts.fail(performance.now()) === 'stop') {
      this.log.error('actor restarted too often; stopping it', { actor, restarts: cell.restarts.recent });
      this.retire(cell, `actor ${actor} stopped after ${cell.restarts.recent - 1} restarts`);
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
    this.cells.get(cell.ref.thread)?.delete(cell.ref.id);
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

  /** Send the answer to ask `env` back to its thread (from the thread it was asked of). Each ask is answered once. */
  /** @internal (actor_context.ts) */
  answer(env: Envelope, kind: EnvelopeKind.Reply | EnvelopeKind.ReplyError, value: unknown): void {
    assert(env.k === EnvelopeKind.Ask && env.a > 0, 'answer an ask that is still open');
    const askId = env.a;
    env.a = -1; // mark answered: a second reply is a programmer error
    const worker = this.workerOf(env.ft);
    if (worker === this.worker) {
      if (env.ft !== env.tt && this.blocks !== undefined && this.blocks.blocks(env.tt, env.ft)) {
        this.stats.partitionDrops++;
        return;
      }
      if (kind === EnvelopeKind.Reply) this.asks.resolve(askId, value);
      else this.asks.reject(askId, fromErrorRecord(value as ErrorRecord));
      return;
    }
    if (!this.sendRemote(worker, kind, askId, env.tt, env.ft, '', '', value)) {
      this.log.error('reply lost: queue towards the asking thread is full', { thread: env.ft, ask: askId });
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

