/**
 * One side of an anti-entropy exchange (issue 15) as a pure state machine:
 * compare two replicas' hash trees (`merkle_tree.ts`) of one key range,
 * descend only into differing subtrees, one stored level (AE_LEVEL_BITS
 * binary levels) per message, then trade the (key, digest) pairs of the
 * differing segments and tell each side which keys it must fetch from the
 * other. Message flow and shapes are in `ae_messages.ts`; the choice
 * between descending and a full sync of the range is `ae_cost.ts`.
 *
 * The session does no I/O. Each call returns an `AeStep`: messages to send
 * to the peer (in order), at most one `query` for the caller to answer from
 * storage with `entries(query.id, ...)` (every key this replica holds in
 * the query's segments, with its digest), keys this side must now fetch,
 * and the result once this side is done. Time-outs, retries, throttling and
 * the fetching itself belong to the actor that runs it.
 *
 * Trees keep taking writes during an exchange. A difference that a write
 * in flight creates or removes is harmless: a subtree that stopped
 * differing is dropped when compared, and a key fetched needlessly merges
 * to what the replica holds already.
 *
 * Bounds: labels per message AE_LABELS_PER_MESSAGE_MAX; entries per page
 * AE_ENTRIES_PER_MESSAGE_MAX (whole segments); entry pages unanswered at
 * once AE_PAGES_IN_FLIGHT_MAX, which also bounds the receiver's queue.
 *
 * Thread contract: one session belongs to one actor. Pure: no I/O, no clock.
 */
import { assert } from './assert.js';
import { descentCost } from './ae_cost.js';
import { decodeLabels, encodeLabels, aeMessageBytes, type AeDiff, type AeEntries, type AeLabels, type AeMessage, type SegmentSet } from './ae_messages.js';
import { AE_ENTRIES_PER_MESSAGE_MAX, AE_LABELS_PER_MESSAGE_MAX, AE_PAGES_IN_FLIGHT_MAX } from './limits.js';
import type { KeyDigest, MerkleTree } from './merkle_tree.js';

/** A storage read the caller must do: every (key, digest) this replica holds in `segments`. */
export interface EntriesQuery {
  id: number;
  segments: SegmentSet;
}

/** How an exchange ended, for this side. */
export interface AeResult {
  /** in-sync: roots (or every compared subtree) equal; diverged: descended to differing segments; full-sync: traded every entry of the range; aborted: see `reason`. */
  outcome: 'in-sync' | 'diverged' | 'full-sync' | 'aborted';
  /** Why it was aborted; empty otherwise. */
  reason: string;
  /** Keys this side must fetch from the peer, in total. */
  fetched: number;
  /** Messages and estimated bytes this side sent (`aeMessageBytes`). */
  messagesSent: number;
  bytesSent: number;
  /** (key, digest) entries this side sent. */
  entriesSent: number;
}

/** What the caller must do after a call. */
export interface AeStep {
  send: AeMessage[];
  query: EntriesQuery | null;
  /** Keys this side must fetch from the peer, found in this call. */
  fetch: Uint8Array[];
  /** Set once, when this side is done. */
  result: AeResult | null;
}

/** Where a session is. */
type Phase = 'new' | 'descending' | 'sending-entries' | 'receiving-entries' | 'done';

/** One side of one exchange. */
export class AeSession {
  private phase: Phase = 'new';
  /** Depth of the labels expected next while descending. */
  private expectedDepth = -1;
  /** Nodes found differing so far in the step being received. */
  private differing: number[] = [];
  /** Next page number expected: of the labels step being received, then of the entry pages. */
  private pageExpected = 0;
  /** Peer's key count and key bytes, from its last labels message. */
  private peerKeys = 0;
  private peerKeyBytes = 0;
  /** Sending entries: the segments still to query, in order, and whether they form one span. */
  private pendingSegments: number[] = [];
  private pendingIsSpan = false;
  private fullSync = false;
  /** Entry pages sent and answered; the query outstanding (id), or -1. */
  private pagesSent = 0;
  private pagesAnswered = 0;
  private queryOutstanding = -1;
  private querySegments: SegmentSet | null = null;
  private nextQueryId = 0;
  /** Receiving entries: pages waiting for this side's own entries, oldest first. */
  private pagesWaiting: AeEntries[] = [];
  private result: AeResult = { outcome: 'in-sync', reason: '', fetched: 0, messagesSent: 0, bytesSent: 0, entriesSent: 0 };

  constructor(
    /** This replica's tree of the range; read, never changed. */
    private readonly tree: MerkleTree,
    /** Exchange id (chosen by the initiator, copied by the responder from the first message). */
    readonly exchange: number,
  ) {}

  /** Initiator: open the exchange with the labels one stored level below the root. */
  start(): AeStep {
    assert(this.phase === 'new', 'an exchange starts once');
    const step = emptyStep();
    this.sendLabels(step, 0, [0]);
    return step;
  }

  /** Handle a message from the peer. */
  receive(msg: AeMessage): AeStep {
    const step = emptyStep();
    if (this.phase === 'done') return step; // late pages of an aborted exchange
    if (msg.exchange !== this.exchange) return this.abort(step, `message of exchange ${msg.exchange} in exchange ${this.exchange}`);
    switch (msg.type) {
      case 'ae-labels':
        return this.onLabels(step, msg);
      case 'ae-entries':
        return this.onEntries(step, msg);
      case 'ae-diff':
        return this.onDiff(step, msg);
      case 'ae-done':
        this.result.outcome = msg.outcome;
        this.result.reason = msg.reason;
        return this.finish(step);
    }
  }

  /** Answer the outstanding query: every (key, digest) this replica holds in its segments. */
  entries(queryId: number, own: readonly KeyDigest[]): AeStep {
    assert(queryId === this.queryOutstanding && this.querySegments !== null, 'entries answer the outstanding query');
    const segments = this.querySegments;
    this.queryOutstanding = -1;
    this.querySegments = null;
    for (const e of own) assert(inSet(segments, this.tree.segmentOf(e.key)), 'entries belong to the queried segments');
    const step = emptyStep();
    if (this.phase === 'done') return step;
    if (this.phase === 'sending-entries') {
      this.sendEntryPages(step, segments, own);
      this.queryNext(step);
    } else {
      assert(this.phase === 'receiving-entries', 'queries come from the entries phases');
      const finished = this.diffPage(step, this.pagesWaiting.shift()!, own);
      if (!finished && this.pagesWaiting.length > 0) this.query(step, this.pagesWaiting[0]!.segments);
    }
    return step;
  }

  private onLabels(step: AeStep, msg: AeLabels): AeStep {
    if (this.phase === 'new') this.expectedDepth = this.tree.depths[1]!;
    else if (this.phase !== 'descending') return this.abort(step, `labels while ${this.phase}`);
    this.phase = 'descending';
    if (msg.leafBits !== this.tree.leafBits) return this.abort(step, `trees differ in size: ${msg.leafBits} against ${this.tree.leafBits} leaf bits; rebuild one`);
    if (msg.depth !== this.expectedDepth || msg.page !== this.pageExpected) return this.abort(step, `labels at depth ${msg.depth} page ${msg.page}, expected depth ${this.expectedDepth} page ${this.pageExpected}`);
    const level = this.tree.depths.indexOf(msg.depth);
    if (level < 1 || this.tree.depths[level - 1] !== msg.parentDepth) return this.abort(step, `labels at depth ${msg.depth} under depth ${msg.parentDepth}`);
    const per = 2 ** (msg.depth - msg.parentDepth);
    const theirs = decodeLabels(msg.labels);
    if (theirs.length !== 2 * per * msg.parents.length || msg.parents.some((p) => !(Number.isInteger(p) && p >= 0 && p < 2 ** msg.parentDepth))) {
      return this.abort(step, 'labels do not match their parents');
    }
    const ours = this.tree.subtreeLabels(msg.parentDepth, msg.parents, msg.depth);
    for (let i = 0; i < msg.parents.length; i++) {
      for (let c = 0; c < per; c++) {
        const w = 2 * (i * per + c);
        if (ours[w] !== theirs[w] || ours[w + 1] !== theirs[w + 1]) this.differing.push(msg.parents[i]! * per + c);
      }
    }
    this.peerKeys = msg.keys;
    this.peerKeyBytes = msg.keyBytes;
    this.pageExpected++;
    if (!msg.last) return step;
    return this.decide(step, msg.depth);
  }

  /** A step was fully received at `depth`: finish, descend, or send entries. */
  private decide(step: AeStep, depth: number): AeStep {
    const differing = this.differing;
    this.differing = [];
    this.pageExpected = 0;
    if (differing.length === 0) {
      this.post(step, { type: 'ae-done', exchange: this.exchange, outcome: 'in-sync', reason: '' });
      return this.finish(step);
    }
    this.result.outcome = 'diverged';
    const keys = Math.max(this.tree.keys, this.peerKeys);
    const totalKeys = this.tree.keys + this.peerKeys;
    const meanKeyBytes = totalKeys === 0 ? 0 : (this.tree.keyBytes + this.peerKeyBytes) / totalKeys;
    const cost = descentCost({ depth, differing: differing.length, depths: this.tree.depths, keys, meanKeyBytes });
    if (cost.choice === 'full-sync') {
      this.fullSync = true;
      this.result.outcome = 'full-sync';
      this.startEntries(step, [], true);
    } else if (depth === this.tree.leafBits) {
      this.startEntries(step, differing.sort((a, b) => a - b), false);
    } else {
      this.sendLabels(step, depth, differing);
    }
    return step;
  }

  /** Send this tree's labels one stored level below `parentDepth` for `parents`, in pages. */
  private sendLabels(step: AeStep, parentDepth: number, parents: number[]): void {
    const level = this.tree.depths.indexOf(parentDepth);
    const depth = this.tree.depths[level + 1]!;
    const perParent = 2 ** (depth - parentDepth);
    const parentsPerPage = Math.max(1, Math.floor(AE_LABELS_PER_MESSAGE_MAX / perParent));
    const pages = Math.ceil(parents.length / parentsPerPage);
    for (let page = 0; page < pages; page++) {
      const chunk = parents.slice(page * parentsPerPage, (page + 1) * parentsPerPage);
      this.post(step, {
        type: 'ae-labels', exchange: this.exchange, leafBits: this.tree.leafBits, parentDepth, depth, parents: chunk,
        labels: encodeLabels(this.tree.subtreeLabels(parentDepth, chunk, depth)), page, last: page === pages - 1,
        keys: this.tree.keys, keyBytes: this.tree.keyBytes,
      });
    }
    this.phase = 'descending';
    // The peer answers with labels one more level down, or with entries once at the leaves.
    this.expectedDepth = this.tree.depths[level + 2] ?? this.tree.leafBits + 1;
  }

  /** Become the side that sends entries: of `segments`, or of the whole range when `full`. */
  private startEntries(step: AeStep, segments: number[], full: boolean): void {
    this.phase = 'sending-entries';
    this.pendingSegments = segments;
    this.pendingIsSpan = full;
    this.nextSpanStart = 0;
    this.queryNext(step);
  }

  /** Next segment of the span still to query (full sync). */
  private nextSpanStart = 0;

  /** Query the next batch of segments, if the window allows; finish when everything was answered. */
  private queryNext(step: AeStep): void {
    if (this.queryOutstanding !== -1) return;
    const segmentCount = 2 ** this.tree.leafBits;
    const remaining = this.pendingIsSpan ? segmentCount - this.nextSpanStart : this.pendingSegments.length;
    if (remaining === 0) {
      if (this.pagesAnswered === this.pagesSent) this.finish(step);
      return;
    }
    if (this.pagesSent - this.pagesAnswered >= AE_PAGES_IN_FLIGHT_MAX) return;
    // Aim a batch at one page: segments x (keys per segment) about AE_ENTRIES_PER_MESSAGE_MAX.
    const keysPerSegment = Math.max(this.tree.keys, this.peerKeys) / segmentCount;
    const batch = Math.max(1, Math.min(remaining, Math.floor(AE_ENTRIES_PER_MESSAGE_MAX / Math.max(keysPerSegment, 1e-9))));
    if (this.pendingIsSpan) {
      this.query(step, { kind: 'span', from: this.nextSpanStart, to: this.nextSpanStart + batch });
      this.nextSpanStart += batch;
    } else {
      this.query(step, { kind: 'list', segments: this.pendingSegments.splice(0, batch) });
    }
  }

  private query(step: AeStep, segments: SegmentSet): void {
    assert(this.queryOutstanding === -1 && step.query === null, 'one query outstanding at a time');
    this.queryOutstanding = this.nextQueryId++;
    this.querySegments = segments;
    step.query = { id: this.queryOutstanding, segments };
  }

  /** Send `own` (the entries of `segments`) as pages of whole segments, each within AE_ENTRIES_PER_MESSAGE_MAX unless one segment alone exceeds it. */
  private sendEntryPages(step: AeStep, segments: SegmentSet, own: readonly KeyDigest[]): void {
    const list = segments.kind === 'list' ? segments.segments : rangeList(segments.from, segments.to);
    const bySegment = new Map<number, KeyDigest[]>();
    for (const e of own) {
      const s = this.tree.segmentOf(e.key);
      let group = bySegment.get(s);
      if (group === undefined) bySegment.set(s, (group = []));
      group.push(e);
    }
    const noMore = this.pendingIsSpan ? this.nextSpanStart >= 2 ** this.tree.leafBits : this.pendingSegments.length === 0;
    let from = 0;
    while (from < list.length) {
      let to = from;
      const keys: Uint8Array[] = [];
      const digests: number[] = [];
      while (to < list.length) {
        const group = bySegment.get(list[to]!) ?? [];
        if (to > from && keys.length + group.length > AE_ENTRIES_PER_MESSAGE_MAX) break;
        for (const e of group) {
          keys.push(e.key);
          digests.push(e.digest);
        }
        to++;
      }
      const covered: SegmentSet = segments.kind === 'span' ? { kind: 'span', from: list[from]!, to: list[to - 1]! + 1 } : { kind: 'list', segments: list.slice(from, to) };
      this.post(step, { type: 'ae-entries', exchange: this.exchange, page: this.pagesSent++, segments: covered, keys, digests, last: noMore && to === list.length, full: this.fullSync });
      this.result.entriesSent += keys.length;
      from = to;
    }
  }

  private onEntries(step: AeStep, msg: AeEntries): AeStep {
    if (this.phase === 'descending' || this.phase === 'new') {
      this.phase = 'receiving-entries';
      this.pageExpected = 0;
      this.result.outcome = msg.full ? 'full-sync' : 'diverged';
    }
    if (this.phase !== 'receiving-entries') return this.abort(step, `entries while ${this.phase}`);
    if (msg.keys.length !== msg.digests.length) return this.abort(step, 'entries page with keys and digests of different counts');
    if (this.pagesWaiting.length >= AE_PAGES_IN_FLIGHT_MAX) return this.abort(step, `more than AE_PAGES_IN_FLIGHT_MAX (${AE_PAGES_IN_FLIGHT_MAX}) entry pages unanswered`);
    if (msg.page !== this.pageExpected) return this.abort(step, `entries page ${msg.page}, expected ${this.pageExpected}`);
    this.pageExpected++;
    this.pagesWaiting.push(msg);
    if (this.queryOutstanding === -1) this.query(step, msg.segments);
    return step;
  }

  /** Compare a peer page with this side's entries of the same segments; answer with the peer's fetch list. True when it was the last page. */
  private diffPage(step: AeStep, page: AeEntries, own: readonly KeyDigest[]): boolean {
    const mine = new Map<string, number>();
    for (const e of own) mine.set(keyText(e.key), e.digest);
    const theirFetch: Uint8Array[] = [];
    for (let i = 0; i < page.keys.length; i++) {
      const key = page.keys[i]!;
      const text = keyText(key);
      const digest = mine.get(text);
      if (digest === page.digests[i]) {
        mine.delete(text);
        continue;
      }
      // Missing here, or different: this side fetches it; if different, the peer needs ours too (merging is symmetric).
      step.fetch.push(key);
      if (digest !== undefined) {
        theirFetch.push(key);
        mine.delete(text);
      }
    }
    for (const e of own) if (mine.has(keyText(e.key))) theirFetch.push(e.key);
    this.result.fetched += step.fetch.length;
    const diff: AeDiff = { type: 'ae-diff', exchange: this.exchange, page: page.page, fetch: theirFetch };
    this.post(step, diff);
    if (page.last) this.finish(step);
    return page.last;
  }

  private onDiff(step: AeStep, msg: AeDiff): AeStep {
    if (this.phase !== 'sending-entries') return this.abort(step, `diff while ${this.phase}`);
    if (msg.page !== this.pagesAnswered) return this.abort(step, `diff for page ${msg.page}, expected ${this.pagesAnswered}`);
    this.pagesAnswered++;
    step.fetch.push(...msg.fetch);
    this.result.fetched += msg.fetch.length;
    this.queryNext(step);
    return step;
  }

  private post(step: AeStep, msg: AeMessage): void {
    step.send.push(msg);
    this.result.messagesSent++;
    this.result.bytesSent += aeMessageBytes(msg);
  }

  private abort(step: AeStep, reason: string): AeStep {
    this.post(step, { type: 'ae-done', exchange: this.exchange, outcome: 'aborted', reason });
    this.result.outcome = 'aborted';
    this.result.reason = reason;
    return this.finish(step);
  }

  private finish(step: AeStep): AeStep {
    this.phase = 'done';
    step.result = { ...this.result };
    return step;
  }
}

function emptyStep(): AeStep {
  return { send: [], query: null, fetch: [], result: null };
}

function inSet(set: SegmentSet, segment: number): boolean {
  if (set.kind === 'span') return segment >= set.from && segment < set.to;
  let lo = 0;
  let hi = set.segments.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const s = set.segments[mid]!;
    if (s === segment) return true;
    if (s < segment) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

function rangeList(from: number, to: number): number[] {
  const out: number[] = [];
  for (let s = from; s < to; s++) out.push(s);
  return out;
}

/** A key as a Map key: one UTF-16 unit per byte, so distinct byte strings stay distinct. */
export function keyText(key: Uint8Array): string {
  let text = '';
  for (let i = 0; i < key.length; i++) text += String.fromCharCode(key[i]!);
  return text;
}
