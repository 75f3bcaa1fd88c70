/**
 * An actor's context on a real worker thread: what `ActorContext` promises
 * (send, ask, reply, timers, clock, randomness, log), built over its host
 * for one hosted actor (a `Cell`). Once the cell is stopped or its node
 * crashed, the context is inert: a late continuation of that actor can
 * neither send, ask, reply, schedule nor log, so a crashed node does
 * nothing more, whatever else runs on its thread.
 *
 * Thread contract: used on the hosting thread only.
 */
import { assert } from '../core/assert.js';
import { toErrorRecord } from '../core/errors.js';
import { ACTOR_TIMERS_MAX } from '../core/limits.js';
import type { Actor, ActorContext, ActorRef, Logger, Message, Replier, SpawnSpec, TimerHandle } from './actor.js';
import { refName } from './actor.js';
import { EnvelopeKind, type Envelope } from './envelope.js';
import { makeLogger, type LogSink } from './logger.js';
import type { BoundedQueue } from './mailbox.js';
import type { RestartBudget } from './restart_budget.js';

/** Delay before a timer message refused by a full mailbox is offered again. */
const TIMER_RETRY_MS = 10;

/** One hosted actor and its runtime state. */
export interface Cell {
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
  /** Recent restarts (the one policy: restart_budget.ts). */
  restarts: RestartBudget;
  /** The envelope being handled, for `reply` and `sender`. */
  current: Envelope | undefined;
  stopped: boolean;
}

/** What a context needs of its host (`actor_host.ts`). */
export interface ContextHost {
  send(from: ActorRef | undefined, to: ActorRef, msg: Message): boolean;
  ask<R>(from: ActorRef | undefined, to: ActorRef, msg: Message, timeout_ms?: number): Promise<R>;
  /** Answer ask `env` once. */
  answer(env: Envelope, kind: EnvelopeKind.Reply | EnvelopeKind.ReplyError, value: unknown): void;
  /** Put an envelope in its local mailbox; false if full or no such actor. */
  enqueue(env: Envelope): boolean;
}

/** The context of the actor in `cell`. */
export function makeActorContext(cell: Cell, host: ContextHost, sink: LogSink): ActorContext {
const logger = makeLogger(refName(cell.ref), sink);
  // Silent once stopped or crashed: a crashed node's late continuations (storage cut off by its crash) would
  // otherwise log failures of a node that no longer runs.
  const log: Logger = {
    debug: (msg, fields) => void (cell.stopped || logger.debug(msg, fields)),
    info: (msg, fields) => void (cell.stopped || logger.info(msg, fields)),
    warn: (msg, fields) => void (cell.stopped || logger.warn(msg, fields)),
    error: (msg, fields) => void (cell.stopped || logger.error(msg, fields)),
  };
  // A stopped or crashed actor's late continuations act on nothing: a crashed node does nothing more.
  const replyTo = (env: Envelope, value: unknown): void => {
    if (cell.stopped) return;
    if (value instanceof Error) host.answer(env, EnvelopeKind.ReplyError, toErrorRecord(value));
    else host.answer(env, EnvelopeKind.Reply, value);
  };
  return {
    self: cell.ref,
    log,
    send: (to, msg) => cell.stopped || host.send(cell.ref, to, msg),
    ask: <R>(to: ActorRef, msg: Message, timeout_ms?: number) => (cell.stopped ? new Promise<R>(() => undefined) : host.ask<R>(cell.ref, to, msg, timeout_ms)),
    reply(value: unknown): void {
      if (cell.stopped) return;
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
      if (cell.stopped) return { cancel: () => undefined };
      assert(cell.timers.size < ACTOR_TIMERS_MAX, `actor ${refName(cell.ref)} has under ${ACTOR_TIMERS_MAX} timers`);
      const incarnation = cell.incarnation;
      let timer: ReturnType<typeof setTimeout>;
      const fire = (): void => {
        cell.timers.delete(timer);
        const env: Envelope = { k: EnvelopeKind.Send, tt: cell.ref.thread, to: cell.ref.id, ft: cell.ref.thread, fi: cell.ref.id, a: 0, m: msg, inc: incarnation };
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
