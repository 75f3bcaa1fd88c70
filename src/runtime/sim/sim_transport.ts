/**
 * How messages and replies travel in the simulator. A message between two
 * actors of one node goes through that node's in-memory mailbox: no faults,
 * not copied, a small fixed delay. A message between nodes goes through
 * `SimNetwork`: deep-copied with `structuredClone` (actors cannot share state,
 * as real threads cannot), and subject to drop, duplicate, delay, reorder and
 * partitions. Replies to `ask`s travel the same way back; an `Error` reply
 * always travels as an `ErrorRecord` and is rebuilt as the same class (as in
 * the real runtime, also between actors of one node). An ask that reaches a
 * live node where its target does not exist or was stopped is answered with
 * a retryable `UnavailableError` (`notHandledError`), as the real runtime answers it.
 *
 * Mailboxes are bounded by MAILBOX_CAPACITY (messages queued or in flight to
 * one actor): `send` returns false when one is full.
 *
 * Every arrival, drop and copy is recorded in the trace.
 *
 * Thread contract: used by the one thread that runs the simulation.
 */
import {
  type ErrorRecord,
  notHandledError,
  OverloadedError,
  TimeoutError,
  fromErrorRecord,
  toErrorRecord,
} from '../../core/errors.js';
import { assert } from '../../core/assert.js';
import { MAILBOX_CAPACITY } from '../../core/limits.js';
import type { ActorRef, Message } from '../actor.js';
import { refName } from '../actor.js';
import type { ActorCell } from './actor_cell.js';
import type { AskTable } from './ask_table.js';
import type { SimNetwork } from './faults.js';
import type { DeliverEvent, ReplyEvent, SimEvent } from './sim_event.js';
import type { Delivery } from './sim_context.js';
import type { SimNode } from './sim_world.js';
import { stableHash } from './stable_hash.js';
import type { TraceKind } from './trace.js';

/** What the transport needs from the world. */
export interface TransportDeps {
  now(): number;
  readonly network: SimNetwork;
  readonly nodes: ReadonlyMap<number, SimNode>;
  readonly asks: AskTable;
  push(time_ms: number, event: SimEvent): void;
  record(kind: TraceKind, from: string, to: string, type: string, hash: string): void;
}

/** A message that reached a live actor, ready for `receive`. */
export interface Arrival {
  readonly cell: ActorCell;
  readonly delivery: Delivery;
}

/** Moves messages and replies between simulated actors. */
export class SimTransport {
  /** Messages queued or in flight per actor ("t1/replica"), against MAILBOX_CAPACITY. */
  private readonly mailboxes = new Map<string, number>();

  constructor(private readonly deps: TransportDeps) {}

  /**
   * Send `msg` to `to` from node `fromNode` (`from` is undefined when the test
   * sends). `clone` copies even a same-node message (the test is another thread).
   * Returns false when the target's mailbox is full.
   */
  send(from: ActorRef | undefined, fromNode: number, to: ActorRef, msg: Message, askId: number | undefined, clone: boolean): boolean {
    assert(typeof msg === 'object' && msg !== null && typeof msg.type === 'string', 'a message is a record with a string type');
    const key = refName(to);
    const queued = this.mailboxes.get(key) ?? 0;
    if (queued >= MAILBOX_CAPACITY) return false;
    const hash = stableHash(msg);
    const now = this.deps.now();
    if (to.thread === fromNode) {
      const localEpoch = this.deps.nodes.get(fromNode)?.epoch;
      const copy = clone ? structuredClone(msg) : msg;
      this.enqueue(now + this.deps.network.options.local_latency_ms, { kind: 'deliver', to, from, fromNode, localEpoch, msg: copy, hash, askId });
      return true;
    }
    const fromName = from === undefined ? `t${fromNode}` : refName(from);
    const fate = this.deps.network.route(fromNode, to.thread, now);
    if (fate.kind !== 'send') {
      this.deps.record(fate.kind, fromName, key, msg.type, hash);
      return true; // the sender cannot tell: the network lost it
    }
    for (const copy of fate.copies) {
      if (copy.duplicate) this.deps.record('duplicate', fromName, key, msg.type, hash);
      if (copy.reordered) this.deps.record('reorder', fromName, key, msg.type, hash);
      const event: DeliverEvent = { kind: 'deliver', to, from, fromNode, localEpoch: undefined, msg: structuredClone(msg), hash, askId };
      this.enqueue(copy.at_ms, event);
    }
    return true;
  }

  /**
   * Start an ask from `owner` (undefined: the test) to `to`. Returns the
   * promise and the ask id (undefined when the ask failed at once, in which
   * case the promise is already rejected and no deadline is needed).
   */
  startAsk<R>(owner: ActorCell | undefined, to: ActorRef, msg: Message, timeout_ms: number): { promise: Promise<R>; askId: number | undefined } {
    const fromNode = owner === undefined ? to.thread : owner.ref.thread;
    if (!this.deps.asks.hasRoom(fromNode)) {
      return { promise: Promise.reject(new OverloadedError(`outstanding asks of node t${fromNode}`)), askId: undefined };
    }
    let resolve: (value: unknown) => void = () => undefined;
    let reject: (err: Error) => void = () => undefined;
    const promise = new Promise<R>((res, rej) => {
      resolve = res as (value: unknown) => void;
      reject = rej;
    });
    const ask = this.deps.asks.add({
      owner: owner === undefined ? undefined : { cell: owner, incarnation: owner.incarnation },
      node: fromNode,
      to,
      type: msg.type,
      timeout_ms,
      resolve,
      reject,
    });
    if (!this.send(owner?.ref, fromNode, to, msg, ask.id, owner === undefined)) {
      this.deps.asks.take(ask.id);
      return { promise: Promise.reject(new OverloadedError(`mailbox of ${refName(to)} (${MAILBOX_CAPACITY} messages)`)), askId: undefined };
    }
    return { promise, askId: ask.id };
  }

  /** Send `value` from `from` back to the asker of `delivery`. */
  reply(from: ActorRef, delivery: Delivery, value: unknown): void {
    const askId = delivery.askId;
    assert(askId !== undefined, 'a reply answers an ask');
    const isError = value instanceof Error;
    const content = isError ? { error: toErrorRecord(value) } : value;
    const hash = stableHash(content);
    const type = `reply:${delivery.type}`;
    const base = { kind: 'reply', askId, from, toNode: delivery.fromNode, isError, hash } as const;
    const now = this.deps.now();
    if (from.thread === delivery.fromNode) {
      this.deps.push(now + this.deps.network.options.local_latency_ms, { ...base, value: content, crossNode: false });
      return;
    }
    const fate = this.deps.network.route(from.thread, delivery.fromNode, now);
    if (fate.kind !== 'send') {
      this.deps.record(fate.kind, refName(from), `t${delivery.fromNode}`, type, hash);
      return;
    }
    for (const copy of fate.copies) {
      if (copy.duplicate) this.deps.record('duplicate', refName(from), `t${delivery.fromNode}`, type, hash);
      if (copy.reordered) this.deps.record('reorder', refName(from), `t${delivery.fromNode}`, type, hash);
      this.deps.push(copy.at_ms, { ...base, value: structuredClone(content), crossNode: true });
    }
  }

  /** A message reaches its target's node: the live actor to hand it to, or undefined if it is lost. */
  arrive(event: DeliverEvent): Arrival | undefined {
    const key = refName(event.to);
    const queued = this.mailboxes.get(key) ?? 0;
    if (queued <= 1) this.mailboxes.delete(key);
    else this.mailboxes.set(key, queued - 1);
    const fromName = event.from === undefined ? 'test' : refName(event.from);
    const node = this.deps.nodes.get(event.to.thread);
    const lostMailbox = event.localEpoch !== undefined && node !== undefined && event.localEpoch !== node.epoch;
    const cell = node?.up === true && !lostMailbox ? node.cells.get(event.to.id) : undefined;
    if (event.localEpoch === undefined && this.deps.network.partitions.isBlocked(event.fromNode, event.to.thread)) {
      this.deps.record('partition', fromName, key, event.msg.type, event.hash);
      return undefined;
    }
    const delivery: Delivery = { from: event.from, fromNode: event.fromNode, askId: event.askId, type: event.msg.type, replied: false };
    if (cell === undefined || cell.instance === undefined || cell.stopped) {
      this.deps.record('dead', fromName, key, event.msg.type, event.hash);
      const nodeLive = node?.up === true && !lostMailbox;
      if (nodeLive && event.askId !== undefined) {
        const why = `no actor '${event.to.id}' on node t${event.to.thread}: it was never spawned or has stopped`;
        this.reply(event.to, delivery, notHandledError(`ask to ${key} (type=${event.msg.type})`, why));
      }
      return undefined;
    }
    this.deps.record('deliver', fromName, key, event.msg.type, event.hash);
    return { cell, delivery };
  }

  /** A reply reaches the asker's node: settle the ask if it still waits. */
  arriveReply(event: ReplyEvent): void {
    const ask = this.deps.asks.get(event.askId);
    const type = `reply:${ask?.type ?? '?'}`;
    const fromName = refName(event.from);
    if (event.crossNode && this.deps.network.partitions.isBlocked(event.from.thread, event.toNode)) {
      this.deps.record('partition', fromName, `t${event.toNode}`, type, event.hash);
      return;
    }
    if (ask === undefined) {
      this.deps.record('dead', fromName, `t${event.toNode}`, type, event.hash); // late, duplicate, or asker lost
      return;
    }
    this.deps.asks.take(event.askId);
    const asker = ask.owner === undefined ? 'test' : refName(ask.owner.cell.ref);
    this.deps.record('reply', fromName, asker, type, event.hash);
    if (!event.isError) ask.resolve(event.value);
    else ask.reject(fromErrorRecord((event.value as { error: ErrorRecord }).error));
  }

  /** An ask's deadline passed without a reply: reject it with `TimeoutError`. */
  expire(askId: number): void {
    const ask = this.deps.asks.take(askId);
    assert(ask !== undefined, 'an expiring ask is outstanding (stale deadlines are skipped)');
    const asker = ask.owner === undefined ? 'test' : refName(ask.owner.cell.ref);
    this.deps.record('timeout', asker, refName(ask.to), ask.type, '');
    ask.reject(new TimeoutError(`ask to ${refName(ask.to)} (type=${ask.type})`, ask.timeout_ms));
  }

  private enqueue(time_ms: number, event: DeliverEvent): void {
    const key = refName(event.to);
    this.mailboxes.set(key, (this.mailboxes.get(key) ?? 0) + 1);
    this.deps.push(time_ms, event);
  }
}
