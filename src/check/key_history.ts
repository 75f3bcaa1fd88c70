/**
 * The checker's per-key indexes (checker.ts): a key's ops, its writes by
 * value and by version, which writes' contexts cover which dots, and the
 * parse caches, so that each property check is a lookup.
 *
 * Pure: no I/O, no clock. Safe from any thread.
 */
import type { Dot, VersionVector } from '../core/dotted_version_vector.js';
import { InvalidRequestError } from '../core/errors.js';
import { contextFromString, parseVersion } from '../core/version_id.js';
import type { HistoryOp } from './history.js';
import { supersededContext } from './supersession.js';

/** The ops of one key and the indexes the checks look things up in. */
export interface KeyHistory {
  key: string;
  /** Every op of the key, in history order. */
  ops: HistoryOp[];
  /** Puts (any outcome) by the value they wrote. */
  putsByValue: Map<string, HistoryOp[]>;
  /** Acknowledged puts and deletes by their version. */
  writesByVersion: Map<string, HistoryOp>;
  /** Which writes' contexts cover which dots. */
  coverage: Coverage;
  /** Shared parse cache. */
  causal: CausalCache;
}

/** A read's result: an ok get's, or the final read's (`op` null). */
export interface Read {
  op: HistoryOp | null;
  values: readonly string[];
  versions: readonly string[];
}

/**
 * The put that made (value, version): the acknowledged write with that
 * version if it wrote that value, else a put of that value whose version is
 * unknown (failed or unknown outcome). Undefined when none (a phantom).
 */
export function resolveWriter(kh: KeyHistory, value: string, version: string): HistoryOp | undefined {
  const atVersion = kh.writesByVersion.get(version);
  if (atVersion !== undefined) return atVersion.kind === 'put' && atVersion.value === value ? atVersion : undefined;
  return kh.putsByValue.get(value)?.find((put) => put.outcome !== 'ok');
}

/**
 * For one key: per actor, the counters its writes' contexts reach, sorted
 * descending, with the earliest-invoked write among those reaching at least
 * each one. "Which write first covered dot (a, n)" is then a binary search.
 */
export class Coverage {
  private readonly entries = new Map<string, Array<{ counter: number; op: HistoryOp }>>();
  private readonly sealed = new Map<string, { counters: number[]; earliest: HistoryOp[] }>();
  /** Overwrites of unknown outcome: their applied context is unknown, so they may cover any dot minted before them. */
  private readonly wildcards: HistoryOp[] = [];

  addWildcard(op: HistoryOp): void {
    this.wildcards.push(op);
  }

  /** The earliest-invoked overwrite of unknown context that may have been minted at or after `from_ms`. */
  earliestWildcard(from_ms: number): HistoryOp | undefined {
    let best: HistoryOp | undefined;
    for (const op of this.wildcards) {
      if (op.completed_ms !== null && op.completed_ms < from_ms) continue;
      if (best === undefined || op.invoked_ms < best.invoked_ms) best = op;
    }
    return best;
  }

  add(actor: string, counter: number, op: HistoryOp): void {
    let list = this.entries.get(actor);
    if (list === undefined) this.entries.set(actor, (list = []));
    list.push({ counter, op });
  }

  /** Build the search arrays; call once, after every `add`. */
  seal(): void {
    for (const [actor, list] of this.entries) {
      list.sort((x, y) => y.counter - x.counter);
      const earliest: HistoryOp[] = [];
      let best = list[0]!.op;
      for (const { op } of list) {
        if (op.invoked_ms < best.invoked_ms || (op.invoked_ms === best.invoked_ms && op.id < best.id)) best = op;
        earliest.push(best);
      }
      this.sealed.set(actor, { counters: list.map((e) => e.counter), earliest });
    }
    this.entries.clear();
  }

  /** The earliest-invoked write (any outcome) whose context covers `dot`, if any. */
  earliest(dot: Dot): HistoryOp | undefined {
    const forActor = this.sealed.get(dot.actor);
    if (forActor === undefined) return undefined;
    const { counters, earliest } = forActor;
    let lo = 0;
    let hi = counters.length; // counters[0..lo) >= dot.counter, counters[hi..) < dot.counter
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (counters[mid]! >= dot.counter) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : earliest[lo - 1];
  }
}

/** Ops grouped by key, keys in order of first appearance. */
export function indexByKey(history: readonly HistoryOp[]): Map<string, KeyHistory> {
  const causal = new CausalCache();
  const keys = new Map<string, KeyHistory>();
  for (const op of history) {
    let kh = keys.get(op.key);
    if (kh === undefined) {
      kh = { key: op.key, ops: [], putsByValue: new Map(), writesByVersion: new Map(), coverage: new Coverage(), causal };
      keys.set(op.key, kh);
    }
    kh.ops.push(op);
    if (op.kind === 'get') continue;
    if (op.kind === 'put') {
      const puts = kh.putsByValue.get(op.value!);
      if (puts === undefined) kh.putsByValue.set(op.value!, [op]);
      else puts.push(op);
    }
    if (op.outcome === 'ok') kh.writesByVersion.set(op.version!, op);
    for (const entry of causal.applied(op)) kh.coverage.add(entry.actor, entry.counter, op);
    if (op.overwrite === true && op.superseded === undefined) kh.coverage.addWildcard(op);
  }
  for (const kh of keys.values()) kh.coverage.seal();
  return keys;
}

/** Contexts and versions parsed once each (many ops share them). */
export class CausalCache {
  private readonly contexts = new Map<string, VersionVector>();
  private readonly dots = new Map<string, Dot>();

  /**
   * The context that decides what a write supersedes (`supersededContext`:
   * the applied one when recorded, else the one passed), as a vector; a
   * malformed one throws naming the op.
   */
  applied(op: HistoryOp): VersionVector {
    return this.parse(supersededContext(op), op);
  }

  /** A context text of `op` as a vector; a malformed one throws naming the op. */
  parse(text: string, op: HistoryOp): VersionVector {
    let vector = this.contexts.get(text);
    if (vector === undefined) {
      try {
        vector = contextFromString(text);
      } catch (err) {
        throw new InvalidRequestError(`op #${op.id}: ${(err as Error).message}`);
      }
      this.contexts.set(text, vector);
    }
    return vector;
  }

  /** A version text as a dot (throws `InvalidRequestError` if malformed). */
  dot(version: string): Dot {
    let dot = this.dots.get(version);
    if (dot === undefined) {
      dot = { ...parseVersion(version), ts_ms: 0 };
      this.dots.set(version, dot);
    }
    return dot;
  }
}

/** The pointwise maximum of several contexts, remembering which op gave each entry. */
export class MaxVector {
  private readonly entries = new Map<string, { counter: number; op: number }>();

  join(context: VersionVector, op: number): void {
    for (const e of context) {
      const seen = this.entries.get(e.actor);
      if (seen === undefined || e.counter > seen.counter) this.entries.set(e.actor, { counter: e.counter, op });
    }
  }

  /** The id of an op whose context covers `dot`, if any. */
  coveredBy(dot: Dot): number | undefined {
    const e = this.entries.get(dot.actor);
    return e !== undefined && e.counter >= dot.counter ? e.op : undefined;
  }
}
