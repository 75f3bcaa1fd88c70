/**
 * The kinds of event the simulator's queue holds. Each is carried out by the
 * world at its virtual time; stale ones (a cancelled timer, the timeout of an
 * ask already answered) are skipped without advancing the clock.
 */
import type { ActorRef, Message } from '../actor.js';
import type { ActorCell, TimerEntry } from './actor_cell.js';

/** A message arriving at an actor's mailbox. */
export interface DeliverEvent {
  readonly kind: 'deliver';
  readonly to: ActorRef;
  /** Sending actor; undefined when the test sent it. */
  readonly from: ActorRef | undefined;
  /** Node it was sent from. */
  readonly fromNode: number;
  /** Sending node's epoch for a same-node message (lost if that node crashes first); else undefined. */
  readonly localEpoch: number | undefined;
  readonly msg: Message;
  /** Stable hash of `msg`, computed once at send. */
  readonly hash: string;
  /** The ask this message belongs to, if any. */
  readonly askId: number | undefined;
}

/** An ask's answer arriving at the asker's node. */
export interface ReplyEvent {
  readonly kind: 'reply';
  readonly askId: number;
  /** The actor that answered. */
  readonly from: ActorRef;
  /** Node of the asker. */
  readonly toNode: number;
  /** The answer; for an error, an `{ error: ErrorRecord }` wrapper. */
  readonly value: unknown;
  /** True when `value` is an error (rejects the asker). */
  readonly isError: boolean;
  /** True when it crossed nodes (the partition table applies at arrival). */
  readonly crossNode: boolean;
  readonly hash: string;
}

/** A timer firing into its actor. */
export interface TimerEvent {
  readonly kind: 'timer';
  readonly cell: ActorCell;
  readonly incarnation: number;
  readonly entry: TimerEntry;
  readonly msg: Message;
  readonly hash: string;
}

/** The deadline of an ask. */
export interface AskTimeoutEvent {
  readonly kind: 'ask_timeout';
  readonly askId: number;
}

/** A world action scheduled by the test or the crash plan. */
export interface ControlEvent {
  readonly kind: 'control';
  /** What it does, for errors. */
  readonly what: string;
  readonly run: () => void;
  /** Background events (the crash plan's ticks) do not keep the world from being idle. */
  readonly background: boolean;
}

/** Anything the queue holds. */
export type SimEvent = DeliverEvent | ReplyEvent | TimerEvent | AskTimeoutEvent | ControlEvent;
