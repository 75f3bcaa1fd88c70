/**
 * When an acknowledged put that is missing from the final read was
 * legitimately superseded (issue 12: a write is superseded only by a later
 * write whose context was read after the write it supersedes).
 *
 * A version leaves a key's sibling set only when another write's causal
 * context covers its dot. Coverage alone proves little: a context covers dot
 * (actor, n) whenever its entry for actor reaches n, so a node that forgets
 * its counter and mints dot (actor, n) a second time makes the new write
 * look covered by every context that saw the first one, and the store drops
 * it as "superseded" though no client ever saw it. What makes coverage
 * legitimate is where the context came from: it must have been read from the
 * cluster at a time when the put could already have been in it.
 *
 * The put P was minted after it was invoked, so a context that covers it
 * legitimately was handed out after P was invoked. For a write W, the
 * context that decides what it supersedes is `W.superseded` when recorded
 * (the applied context: the client's, or for an overwrite what the minting
 * owner held), else `W.context` (what the client passed). It could have
 * included P when:
 *
 *  - it is W's own applied context (an overwrite, or `superseded` differs
 *    from the context passed): the owner read it while minting W, between
 *    W's invocation and its completion, so W must have completed at or
 *    after P's invocation (an overwrite of unknown outcome, whose applied
 *    context is not known, may cover any dot on that condition); or
 *  - W's client was handed exactly that context, before W was invoked and
 *    at or after P was invoked, by a get (`readContext`) or by a write's
 *    reply (`replyContext`). Reads that overlap P may see it before its
 *    acknowledgement, which this allows: only the read's completion is
 *    compared with P's invocation, never with P's completion.
 *
 * Histories from harnesses that do not record `replyContext` are checked
 * leniently: any acknowledged write of W's client that completed in that
 * interval may have been the source.
 *
 * Cost: per key, contexts are indexed per actor (counters sorted
 * descending), and the handed-out times per (client, context) are sorted, so
 * finding a legitimate superseder walks only the writes that cover the dot.
 *
 * Pure: no I/O, no clock. Safe from any thread.
 */
import type { Dot, VersionVector } from '../core/dotted_version_vector.js';
import type { HistoryOp } from './history.js';

/** Parses a context text of `op` (throws `InvalidRequestError` naming the op when malformed). */
export type ContextParser = (text: string, op: HistoryOp) => VersionVector;

/** What a search for P's superseder found. */
export interface Supersession {
  /** A write that legitimately supersedes P, if any. */
  by?: HistoryOp;
  /** Otherwise, a write whose context covers P's dot but could not have included P (for the report). */
  unjustified?: HistoryOp;
}

/** The context that decides what `write` supersedes: the applied one when recorded, else the one passed. */
export function supersededContext(write: HistoryOp): string {
  return write.superseded ?? write.context ?? '';
}

/** For one key: which writes' contexts cover which dots, and when each context was handed to each client. */
export class Supersessions {
  /** Per actor: (counter the context reaches, the write), counters descending. */
  private readonly byActor = new Map<string, Array<{ counter: number; write: HistoryOp }>>();
  /** Per client and context text: when an op handed that context to the client (ascending). */
  private readonly handedOut = new Map<string, number[]>();
  /** Per client: completions of its acknowledged writes that recorded no replyContext (ascending). */
  private readonly unrecordedReplies = new Map<string, number[]>();
  /** Overwrites of unknown outcome (no applied context recorded): they may cover any dot. */
  private readonly wildcards: HistoryOp[] = [];

  /** Index `ops` (one key's, any order). */
  constructor(ops: readonly HistoryOp[], parse: ContextParser) {
    for (const op of ops) {
      if (op.outcome === 'ok' && op.kind === 'get' && op.readContext !== undefined) push(this.handedOut, handoutKey(op.client, op.readContext), op.completed_ms!);
      if (op.kind === 'get') continue;
      if (op.outcome === 'ok') {
        if (op.replyContext !== undefined) push(this.handedOut, handoutKey(op.client, op.replyContext), op.completed_ms!);
        else push(this.unrecordedReplies, op.client, op.completed_ms!);
      }
      if (op.overwrite === true && op.superseded === undefined) this.wildcards.push(op);
      for (const e of parse(supersededContext(op), op)) {
        let list = this.byActor.get(e.actor);
        if (list === undefined) this.byActor.set(e.actor, (list = []));
        list.push({ counter: e.counter, write: op });
      }
    }
    for (const list of this.byActor.values()) list.sort((x, y) => y.counter - x.counter || x.write.id - y.write.id);
    for (const times of [...this.handedOut.values(), ...this.unrecordedReplies.values()]) times.sort((x, y) => x - y);
  }

  /** Whether some write legitimately supersedes `put` (whose version is `dot`); see the file comment. */
  find(put: HistoryOp, dot: Dot): Supersession {
    const list = this.byActor.get(dot.actor) ?? [];
    let unjustified: HistoryOp | undefined;
    for (const { counter, write } of list) {
      if (counter < dot.counter) break;
      if (write === put) continue;
      if (this.couldInclude(write, put)) return { by: write };
      unjustified ??= write;
    }
    const overwrite = this.wildcards.find((w) => w !== put && (w.completed_ms === null || w.completed_ms >= put.invoked_ms));
    if (overwrite !== undefined) return { by: overwrite };
    return unjustified === undefined ? {} : { unjustified };
  }

  /** True when `write`'s superseded context could have been read after `put` was invoked. */
  private couldInclude(write: HistoryOp, put: HistoryOp): boolean {
    const context = supersededContext(write);
    const from = put.invoked_ms;
    if (write.superseded !== undefined && (write.overwrite === true || write.superseded !== (write.context ?? ''))) {
      return write.completed_ms === null || write.completed_ms >= from;
    }
    const until = write.invoked_ms;
    if (anyWithin(this.handedOut.get(handoutKey(write.client, context)), from, until)) return true;
    return anyWithin(this.unrecordedReplies.get(write.client), from, until);
  }
}

function handoutKey(client: string, context: string): string {
  return `${client}\u0000${context}`;
}

function push(map: Map<string, number[]>, key: string, value: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** True when sorted `times` holds a value in [from, until]. */
function anyWithin(times: readonly number[] | undefined, from: number, until: number): boolean {
  if (times === undefined || from > until) return false;
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < from) lo = mid + 1;
    else hi = mid;
  }
  return lo < times.length && times[lo]! <= until;
}
