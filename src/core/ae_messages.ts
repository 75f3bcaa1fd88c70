/**
 * The messages of one anti-entropy exchange between two replicas of a key
 * range (issue 15), as plain data (numbers, arrays, Uint8Array) so an actor
 * can send them across threads or the wire. `ae_exchange.ts` produces and
 * consumes them; nothing here has behaviour beyond encoding labels and
 * estimating a message's size.
 *
 * One exchange, by the number of the message:
 *   1. initiator -> responder  ae-labels   its labels one stored level below the root
 *   2. responder -> initiator  ae-done     (equal: one round trip) or ae-labels one level
 *      further down, for the subtrees that differ only
 *   3. ...                     ae-labels   alternating, one stored level per message
 *   n. whoever reached the leaves (or chose a full sync) -> peer: ae-entries,
 *      the (key, digest) pairs of the differing segments, in pages
 *   n+1. peer -> sender         ae-diff     per page: the keys the sender must fetch
 *      (the peer keeps the keys it must fetch itself)
 * A step that does not fit one message is sent as pages (`page`, `last`).
 *
 * Label bytes on the wire: 8 per label, the u32 low word then the u32 high
 * word, both little-endian:
 *
 *   +-----------+-----------+-----------+-----------+----
 *   | lo (u32)  | hi (u32)  | lo (u32)  | hi (u32)  | ...
 *   +-----------+-----------+-----------+-----------+----
 *
 * Pure: no I/O, no clock.
 */
import { assert } from './assert.js';
import { LABEL_BYTES } from './merkle_tree.js';
import type { SiblingDigest } from './sibling_digest.js';

/** Segments a page of entries covers: a sorted list, or every segment in [from, to). */
export type SegmentSet = { kind: 'list'; segments: number[] } | { kind: 'span'; from: number; to: number };

/** Labels of the children of subtrees known to differ, one stored level further down. */
export interface AeLabels {
  type: 'ae-labels';
  /** Exchange id, chosen by the initiator; every message of the exchange carries it. */
  exchange: number;
  /** The sender's tree leaf bits: two trees of different sizes do not exchange (`aborted`). */
  leafBits: number;
  /** Depth of the parents, whose children's labels follow. */
  parentDepth: number;
  /** Depth of the labels carried (the next stored depth below `parentDepth`). */
  depth: number;
  /** Parents (nodes at `parentDepth`) whose children's labels this page carries, in order. */
  parents: number[];
  /** 2^(depth - parentDepth) labels per parent, in `encodeLabels` layout. */
  labels: Uint8Array;
  /** Page number within this step, from 0. */
  page: number;
  /** True on the step's last page: the receiver then decides the next step. */
  last: boolean;
  /** Keys the sender's tree covers, for the receiver's cost estimate. */
  keys: number;
  /** Total key bytes the sender's tree covers, for the receiver's cost estimate. */
  keyBytes: number;
}

/** (key, digest) pairs of whole segments: every key the sender holds in `segments`. */
export interface AeEntries {
  type: 'ae-entries';
  exchange: number;
  /** Page number among this exchange's entry pages, from 0. */
  page: number;
  /** The segments this page covers completely (a segment with no entries may be listed). */
  segments: SegmentSet;
  /** Keys, parallel to `digests`. */
  keys: Uint8Array[];
  /** Sibling digests of `keys`. */
  digests: SiblingDigest[];
  /** True on the last page. */
  last: boolean;
  /** True when the sender chose a full sync of the range instead of descending. */
  full: boolean;
}

/** The answer to one entries page: the keys its sender must fetch from the answering side. */
export interface AeDiff {
  type: 'ae-diff';
  exchange: number;
  /** The entries page answered. */
  page: number;
  /** Keys the entries' sender lacks or holds with another digest. */
  fetch: Uint8Array[];
}

/** The exchange ended early: the trees were equal, or one side could not go on. */
export interface AeDone {
  type: 'ae-done';
  exchange: number;
  outcome: 'in-sync' | 'aborted';
  /** Why it was aborted (for the log); empty when in sync. */
  reason: string;
}

/** Every message of an exchange. */
export type AeMessage = AeLabels | AeEntries | AeDiff | AeDone;

/** Labels as wire bytes (layout in the header). */
export function encodeLabels(words: Uint32Array): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < words.length; i++) view.setUint32(i * 4, words[i]!, true);
  return out;
}

/** Label words from wire bytes (layout in the header). */
export function decodeLabels(bytes: Uint8Array): Uint32Array {
  assert(bytes.length % LABEL_BYTES === 0, 'label bytes are a whole number of 8-byte labels');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}

/** Bytes of a message's fixed fields (type, exchange, page, flags, counts) in any encoding we would use. */
export const AE_HEADER_BYTES = 24;
/** Bytes one (key, digest) entry costs besides the key: u16 key length, 8-byte digest. */
export const AE_ENTRY_OVERHEAD_BYTES = 10;

/**
 * Estimated encoded size of `msg`: what the benchmark reports as bytes
 * sent and the cost estimate assumes. Counts payload exactly, fixed fields
 * as AE_HEADER_BYTES.
 */
export function aeMessageBytes(msg: AeMessage): number {
  switch (msg.type) {
    case 'ae-labels':
      return AE_HEADER_BYTES + 4 * msg.parents.length + msg.labels.length;
    case 'ae-entries': {
      let bytes = AE_HEADER_BYTES + (msg.segments.kind === 'span' ? 8 : 4 * msg.segments.segments.length);
      for (const key of msg.keys) bytes += AE_ENTRY_OVERHEAD_BYTES + key.length;
      return bytes;
    }
    case 'ae-diff': {
      let bytes = AE_HEADER_BYTES;
      for (const key of msg.fetch) bytes += 2 + key.length;
      return bytes;
    }
    case 'ae-done':
      return AE_HEADER_BYTES + msg.reason.length;
  }
}
