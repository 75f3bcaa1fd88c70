/**
 * The simulator's world options, its node record and its livelock error,
 * shared by the world and its parts.
 */
import type { ActorKinds } from '../actor.js';
import type { ActorCell } from './actor_cell.js';
import type { FaultOptions } from './faults.js';

/** How to build a world. */
export interface SimWorldOptions {
  /** The seed every random choice derives from. */
  seed: number;
  /** Actor kinds that `spawn(thread, spec)` can name. */
  kinds?: ActorKinds;
  /** Network and crash faults (default: a reliable FIFO network). */
  faults?: FaultOptions;
  /** Print log lines as they happen (they are always kept in `logs`). */
  print_logs?: boolean;
  /** Events one run call may carry out before it reports a livelock (at most SIM_EVENTS_MAX). */
  events_max?: number;
  /** Trace events kept for printing (the hash always covers all). */
  trace_tail?: number;
}

/** Thrown when a run call carries out `events_max` events without finishing. */
export class SimLivelockError extends Error {
  override name = 'SimLivelockError';
}

/** One simulated node: a thread of the real runtime. */
export interface SimNode {
  readonly id: number;
  /** False while crashed. */
  up: boolean;
  /** Bumped by every crash: same-node messages from an older epoch were in a lost mailbox. */
  epoch: number;
  /** Its actors by id, in spawn order. */
  readonly cells: Map<string, ActorCell>;
}

