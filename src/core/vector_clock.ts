/**
 * Vector clocks (Dynamo 2007, section 4.4): a list of [node, counter] pairs,
 * each with the time it was last bumped so the oldest can be truncated past
 * `VCLOCK_ENTRIES_MAX` entries. Truncation can make two causally ordered
 * versions look concurrent (a false sibling, never a lost write), which is the
 * documented risk Dynamo accepts.
 *
 * Encoded layout (all integers little-endian), entries sorted by node id:
 *
 *   +---------+---------------------------------------------------------+
 *   | u16 n   | n x ( u8 idLen | id (UTF-8) | f64 counter | f64 ts_ms ) |
 *   +---------+---------------------------------------------------------+
 *
 * Pure: no I/O, no clock (the caller passes `now_ms`).
 */
import { assert } from './assert.js';
import { InvalidRequestError } from './errors.js';
import { CLOCK_MAX_BYTES, VCLOCK_ENTRIES_MAX } from './limits.js';
import type { Causality, VersionOrder } from './version_order.js';

/** One entry: the node that coordinated writes, how many, and when last. */
export interface ClockEntry {
  node: string;
  counter: number;
  ts_ms: number;
}

/** A vector clock: entries sorted by `node`, each node at most once. */
export type VectorClock = readonly ClockEntry[];

/** The clock after a write coordinated by `node` (increment or add [node, 1]). */
export function increment(clock: VectorClock, node: string, now_ms: number, maxEntries = VCLOCK_ENTRIES_MAX): VectorClock {
  const out = clock.map((e) => ({ ...e }));
  const mine = out.find((e) => e.node === node);
  if (mine) {
    mine.counter += 1;
    mine.ts_ms = now_ms;
  } else {
    out.push({ node, counter: 1, ts_ms: now_ms });
  }
  return truncate(sortEntries(out), maxEntries, node);
}

/** The least clock that descends from both (pointwise maximum). */
export function merge(a: VectorClock, b: VectorClock): VectorClock {
  const byNode = new Map<string, ClockEntry>();
  for (const e of [...a, ...b]) {
    const seen = byNode.get(e.node);
    if (!seen || e.counter > seen.counter || (e.counter === seen.counter && e.ts_ms > seen.ts_ms)) {
      byNode.set(e.node, { ...e });
    }
  }
  return sortEntries([...byNode.values()]);
}

/** How `a` relates to `b` causally. */
export function compare(a: VectorClock, b: VectorClock): Causality {
  let aBigger = false;
  let bBigger = false;
  const bMap = new Map(b.map((e) => [e.node, e.counter]));
  for (const e of a) {
    const other = bMap.get(e.node) ?? 0;
    if (e.counter > other) aBigger = true;
    else if (e.counter < other) bBigger = true;
    bMap.delete(e.node);
  }
  for (const counter of bMap.values()) if (counter > 0) bBigger = true;
  if (aBigger && bBigger) return 'concurrent';
  if (aBigger) return 'after';
  if (bBigger) return 'before';
  return 'equal';
}

/** Drop the oldest entries (by timestamp) past `maxEntries`, never `keep`. */
function truncate(clock: ClockEntry[], maxEntries: number, keep: string): ClockEntry[] {
  if (clock.length <= maxEntries) return clock;
  const byAge = [...clock].sort((x, y) => x.ts_ms - y.ts_ms || (x.node < y.node ? -1 : 1));
  const drop = new Set<string>();
  for (const e of byAge) {
    if (clock.length - drop.size <= maxEntries) break;
    if (e.node !== keep) drop.add(e.node);
  }
  return clock.filter((e) => !drop.has(e.node));
}

function sortEntries(entries: ClockEntry[]): ClockEntry[] {
  return entries.sort((x, y) => (x.node < y.node ? -1 : x.node > y.node ? 1 : 0));
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Encode a clock to its byte layout. */
export function encodeClock(clock: VectorClock): Uint8Array {
  const ids = clock.map((e) => utf8Encoder.encode(e.node));
  let size = 2;
  for (const id of ids) {
    assert(id.length <= 255, 'vector clock node id fits in a u8 length');
    size += 1 + id.length + 16;
  }
  if (size > CLOCK_MAX_BYTES) throw new InvalidRequestError(`vector clock of ${size} bytes exceeds ${CLOCK_MAX_BYTES}`);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint16(0, clock.length, true);
  let at = 2;
  clock.forEach((e, i) => {
    const id = ids[i]!;
    out[at] = id.length;
    out.set(id, at + 1);
    at += 1 + id.length;
    view.setFloat64(at, e.counter, true);
    view.setFloat64(at + 8, e.ts_ms, true);
    at += 16;
  });
  return out;
}

/** Decode a clock; throws `InvalidRequestError` on malformed bytes. */
export function decodeClock(bytes: Uint8Array): VectorClock {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 2) throw new InvalidRequestError('vector clock shorter than its header');
  const n = view.getUint16(0, true);
  const out: ClockEntry[] = [];
  let at = 2;
  for (let i = 0; i < n; i++) {
    if (at + 1 > bytes.length) throw new InvalidRequestError('vector clock truncated');
    const idLen = bytes[at]!;
    if (at + 1 + idLen + 16 > bytes.length) throw new InvalidRequestError('vector clock truncated');
    const node = utf8Decoder.decode(bytes.subarray(at + 1, at + 1 + idLen));
    at += 1 + idLen;
    out.push({ node, counter: view.getFloat64(at, true), ts_ms: view.getFloat64(at + 8, true) });
    at += 16;
  }
  if (at !== bytes.length) throw new InvalidRequestError('vector clock has trailing bytes');
  return out;
}

/** The `VersionOrder` the storage engine uses for encoded vector clocks. */
export const vectorClockOrder: VersionOrder = {
  compare(a: Uint8Array, b: Uint8Array): Causality {
    return compare(decodeClock(a), decodeClock(b));
  },
};
