/**
 * Anti-entropy between two replicas held in memory: a replica model (keys,
 * digests and a hash tree kept in step) and a driver that runs one exchange
 * between two of them by passing messages and answering queries at once.
 * For tests, the benchmark and the simulator's model; an actor runs
 * `AeSession` itself, with storage behind the queries and the network
 * between the sides.
 *
 * Round trips are counted along causal chains: a message sent in answer to
 * one received is one hop further; pages sent back to back are not. A
 * round trip is two hops.
 *
 * Pure: no I/O, no clock.
 */
import { assert } from './assert.js';
import { AeSession, keyText, type AeResult, type AeStep } from './ae_exchange.js';
import type { AeMessage, SegmentSet } from './ae_messages.js';
import { MerkleTree, type KeyDigest } from './merkle_tree.js';
import type { SiblingDigest } from './sibling_digest.js';

/** A replica of one range in memory: its (key, digest) pairs, indexed by segment, and its tree. */
export class MemoryReplica {
  readonly tree: MerkleTree;
  /** segment -> key (as text) -> entry. */
  private readonly segments = new Map<number, Map<string, KeyDigest>>();

  constructor(leafBits: number) {
    this.tree = new MerkleTree(leafBits);
  }

  /** Set `key`'s digest (null: the key is gone), updating the tree by delta. */
  put(key: Uint8Array, digest: SiblingDigest | null): void {
    const segment = this.tree.segmentOf(key);
    let held = this.segments.get(segment);
    const text = keyText(key);
    const old = held?.get(text)?.digest ?? null;
    this.tree.update(key, old, digest);
    if (digest === null) {
      held?.delete(text);
      return;
    }
    if (held === undefined) this.segments.set(segment, (held = new Map()));
    held.set(text, { key, digest });
  }

  /** The digest held for `key`, or null. */
  get(key: Uint8Array): SiblingDigest | null {
    return this.segments.get(this.tree.segmentOf(key))?.get(keyText(key))?.digest ?? null;
  }

  /** Every entry in `set`: what storage would answer to a query. */
  entriesOf(set: SegmentSet): KeyDigest[] {
    const out: KeyDigest[] = [];
    const add = (s: number): void => {
      const held = this.segments.get(s);
      if (held !== undefined) out.push(...held.values());
    };
    if (set.kind === 'list') for (const s of set.segments) add(s);
    else for (let s = set.from; s < set.to; s++) add(s);
    return out;
  }

  /** Every entry of the replica (for a rebuild). */
  *allEntries(): IterableIterator<KeyDigest> {
    for (const held of this.segments.values()) yield* held.values();
  }
}

/** What one exchange between two in-memory replicas did. */
export interface LocalExchangeReport {
  /** Keys each side must fetch from the other. */
  fetchA: Uint8Array[];
  fetchB: Uint8Array[];
  resultA: AeResult;
  resultB: AeResult;
  /** Round trips along the longest causal chain (header). */
  roundTrips: number;
  /** Messages and estimated bytes both sides sent. */
  messages: number;
  bytes: number;
  /** (key, digest) entries both sides sent. */
  entriesShipped: number;
}

/**
 * Messages one local exchange may pass before the driver calls it a bug (a
 * loop): far above what a 2^20-segment range in full sync needs (about 600
 * pages and answers).
 */
const LOCAL_EXCHANGE_MESSAGES_MAX = 1_000_000;

/** Run one exchange, `a` initiating, to completion on both sides. */
export function runLocalExchange(a: MemoryReplica, b: MemoryReplica, exchange = 1): LocalExchangeReport {
  const sides = { a: new AeSession(a.tree, exchange), b: new AeSession(b.tree, exchange) };
  const replicas = { a, b };
  const fetch = { a: [] as Uint8Array[], b: [] as Uint8Array[] };
  const results: { a: AeResult | null; b: AeResult | null } = { a: null, b: null };
  const queue: { to: 'a' | 'b'; msg: AeMessage; hop: number }[] = [];
  let longestHop = 0;

  const handle = (side: 'a' | 'b', step: AeStep, hop: number): void => {
    for (;;) {
      fetch[side].push(...step.fetch);
      if (step.result !== null) {
        assert(results[side] === null, 'a side finishes once');
        results[side] = step.result;
      }
      for (const msg of step.send) {
        queue.push({ to: side === 'a' ? 'b' : 'a', msg, hop: hop + 1 });
        longestHop = Math.max(longestHop, hop + 1);
      }
      if (step.query === null) return;
      // Storage answers at once: the pages it lets the session send are on the same hop.
      step = sides[side].entries(step.query.id, replicas[side].entriesOf(step.query.segments));
    }
  };

  handle('a', sides.a.start(), 0);
  let delivered = 0;
  while (queue.length > 0) {
    assert(++delivered <= LOCAL_EXCHANGE_MESSAGES_MAX, 'a local exchange ends within LOCAL_EXCHANGE_MESSAGES_MAX messages');
    const { to, msg, hop } = queue.shift()!;
    handle(to, sides[to].receive(msg), hop);
  }
  assert(results.a !== null && results.b !== null, 'both sides finish once no message is in flight');
  return {
    fetchA: fetch.a,
    fetchB: fetch.b,
    resultA: results.a,
    resultB: results.b,
    roundTrips: Math.ceil(longestHop / 2),
    messages: results.a.messagesSent + results.b.messagesSent,
    bytes: results.a.bytesSent + results.b.bytesSent,
    entriesShipped: results.a.entriesSent + results.b.entriesSent,
  };
}
