/**
 * The actor contract shared by the real runtime (worker threads, SAB rings)
 * and the deterministic simulator (`sim/`). An actor sees the world only
 * through its `ActorContext`: that seam is what lets the simulator run every
 * actor of every node on one thread, on virtual time, from a seed.
 *
 * Thread contract: an actor instance is only ever touched by the one thread
 * that hosts it; `receive` is never re-entered for the same actor.
 */

/** Every message is a record with a string discriminant (`type`). */
export interface Message {
  readonly type: string;
  readonly [field: string]: unknown;
}

/**
 * Where an actor lives: the thread that hosts it (0 = main thread, 1.. =
 * worker threads; in the simulator, a simulated node) and its id, unique on
 * that thread. Refs are plain data so they can travel inside messages; a
 * sender does not care whether the target is local or on another thread.
 */
export interface ActorRef {
  readonly thread: number;
  readonly id: string;
}

/** Structured logger handed to actors; fields must be plain data. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A scheduled timer; `cancel` is idempotent. */
export interface TimerHandle {
  cancel(): void;
}

/** Completes one `ask` later, after asynchronous work (exactly once). */
export interface Replier {
  ok(value: unknown): void;
  fail(err: unknown): void;
}

/** An actor's only way to act on the world. */
export interface ActorContext<M extends Message = Message> {
  /** This actor's own address. */
  readonly self: ActorRef;
  /**
   * Send `msg` to `to`, fire and forget. Returns false when the message was
   * not accepted because a bounded mailbox or ring is full (backpressure):
   * the caller decides whether to retry, drop with an error, or answer
   * `Overloaded`. Never throws for a full queue.
   */
  send(to: ActorRef, msg: Message): boolean;
  /**
   * Request/reply: resolves with the target's reply, rejects with the error
   * it replied with, with `TimeoutError` after `timeout_ms`, or with
   * `OverloadedError` when the request could not be queued.
   */
  ask<R = unknown>(to: ActorRef, msg: Message, timeout_ms?: number): Promise<R>;
  /** Reply to the `ask` being handled right now. An `Error` value rejects the asker. */
  reply(value: unknown): void;
  /** Capture the current `ask` to reply after async work; undefined when the message was not an ask. */
  replier(): Replier | undefined;
  /** The sender of the message being handled, if it came from an actor. */
  sender(): ActorRef | undefined;
  /** Deliver `msg` to this actor after `delay_ms` (virtual time in the simulator). */
  schedule(delay_ms: number, msg: M): TimerHandle;
  /** Milliseconds since an arbitrary epoch; virtual in the simulator. */
  now(): number;
  /** A uniform number in [0, 1); seeded in the simulator. */
  random(): number;
  readonly log: Logger;
}

/**
 * An actor: state plus a transition on messages. `receive` may return a
 * promise for async work (storage I/O); the runtime does not wait for it
 * before the next message, but a rejection counts as a crash of the actor.
 * A crash (throw or rejection) restarts the actor with fresh state from its
 * factory; messages still queued in its mailbox are kept.
 */
export interface Actor<M extends Message = Message> {
  /** Called once after (re)start, before the first message. */
  started?(ctx: ActorContext<M>): void;
  receive(msg: M, ctx: ActorContext<M>): void | Promise<void>;
  /**
   * Called when the actor is stopped, and on the failed instance before a
   * supervised restart (so it can release files or pools). Not called when
   * its whole thread or node crashes: that is a crash, nothing runs.
   */
  stopped?(): void;
  /**
   * Real worker threads only: the thread is being crashed on purpose (a
   * fault test's `terminateThread`). Release native handles (thread pools,
   * native databases) and nothing else: flush, sync or save nothing, as a
   * crash would not. The thread exits once every actor's promise settles
   * (bounded by CRASH_RELEASE_MS), so no native call is cut off mid-way, a
   * known cause of whole-process aborts under `worker.terminate()`.
   */
  crashed?(): void | Promise<void>;
}

/** Builds a fresh actor instance; called at spawn and at every restart. */
export type ActorFactory<M extends Message = Message> = (args: unknown) => Actor<M>;

/**
 * Actor kinds a thread can spawn, by name. A module that defines actors
 * exports one of these as `actorKinds` so worker threads can load it by path.
 */
export type ActorKinds = Record<string, ActorFactory<any>>; // any: each kind has its own message union

/** What to spawn: a kind from the registry, the id to give it, its factory args. */
export interface SpawnSpec {
  kind: string;
  id: string;
  args?: unknown;
}

/** True when two refs name the same actor. */
export function sameRef(a: ActorRef, b: ActorRef): boolean {
  return a.thread === b.thread && a.id === b.id;
}

/** Human-readable form of a ref for logs and errors: "t2/replica". */
export function refName(ref: ActorRef): string {
  return `t${ref.thread}/${ref.id}`;
}
