/**
 * The simulator's outstanding `ask`s: for each, who asked (an actor
 * incarnation, or the test driving the world), what, and the promise to
 * settle. An ask leaves the table exactly once: answered, timed out, or
 * cancelled because its asker's node crashed or the asker restarted (a
 * cancelled ask never settles: the code waiting on it belongs to a lost
 * instance).
 *
 * Bounded by ASK_PENDING_MAX per node, as the real runtime bounds each thread.
 *
 * Thread contract: used by the one thread that runs the simulation.
 */
import { assert } from '../../core/assert.js';
import { ASK_PENDING_MAX } from '../../core/limits.js';
import type { ActorRef } from '../actor.js';
import type { ActorCell } from './actor_cell.js';

/** One outstanding ask. */
export interface PendingAsk {
  readonly id: number;
  /** The asking actor and its incarnation; undefined when the test asked. */
  readonly owner: { readonly cell: ActorCell; readonly incarnation: number } | undefined;
  /** The node the asker lives on (where the reply goes). */
  readonly node: number;
  /** The actor asked. */
  readonly to: ActorRef;
  /** The request's `type`. */
  readonly type: string;
  readonly timeout_ms: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
}

/** What a new ask needs; the table assigns the id. */
export type AskInput = Omit<PendingAsk, 'id'>;

/** Outstanding asks by id, counted per asking node. */
export class AskTable {
  private readonly pending = new Map<number, PendingAsk>();
  /** Outstanding asks per asking node. */
  private readonly perNode = new Map<number, number>();
  private nextId = 1;

  constructor(readonly perNodeMax: number = ASK_PENDING_MAX) {}

  /** True when `node` may start another ask. */
  hasRoom(node: number): boolean {
    return (this.perNode.get(node) ?? 0) < this.perNodeMax;
  }

  /** Register an ask; the caller checked `hasRoom`. */
  add(input: AskInput): PendingAsk {
    assert(this.hasRoom(input.node), 'ask table has room for this node');
    const ask: PendingAsk = { id: this.nextId++, ...input };
    this.pending.set(ask.id, ask);
    this.perNode.set(ask.node, (this.perNode.get(ask.node) ?? 0) + 1);
    return ask;
  }

  /** The ask with `id` if it is still outstanding. */
  get(id: number): PendingAsk | undefined {
    return this.pending.get(id);
  }

  /** Remove and return the ask with `id`, if still outstanding (the caller settles it). */
  take(id: number): PendingAsk | undefined {
    const ask = this.pending.get(id);
    if (ask === undefined) return undefined;
    this.pending.delete(id);
    this.perNode.set(ask.node, (this.perNode.get(ask.node) ?? 1) - 1);
    return ask;
  }

  /** Drop, unsettled, every ask owned by `cell` (it lost its state). */
  cancelOwnedBy(cell: ActorCell): void {
    for (const ask of [...this.pending.values()]) {
      if (ask.owner?.cell === cell) this.take(ask.id);
    }
  }

  /** Number of outstanding asks. */
  get size(): number {
    return this.pending.size;
  }
}
