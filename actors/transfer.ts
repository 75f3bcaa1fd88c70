/**
 * A node's transfers (issue 16): the key ranges a membership change gives
 * this node, copied from the replicas that hold them, verified, and
 * resumable. One actor per node; the change's driver
 * (`src/cluster/membership_change.ts`) starts transfers on their targets
 * and follows them.
 *
 * A transfer syncs this node with a source replica by passes over its
 * ranges, in key order, a page at a time: the source lists a page of its
 * (key, digest) pairs in the ranges (`range-digests`), this node lists its
 * own over the same keys, and every key that differs is fetched from the
 * source (`get-batch`, then `merge-batch` here) and, if this node holds
 * versions the source lacks (writes that reached it as a pending replica
 * while the source missed them), pushed back. Merging is idempotent, so a
 * pass can restart anywhere. The first pass copies everything. A whole
 * pass that finds no key different, except keys whose differing side holds
 * only versions written after every coordinator had the pending ring
 * (`lateAfterMs`: such writes reach both sides, this node as a pending
 * replica, and differ only while in flight), verifies the transfer: this
 * node then holds every version the source held before the change,
 * key by key, which is what comparing the two hash trees' roots shows,
 * without stopping writes to take the comparison. Each pass fixes what it
 * finds, so the next meets only what was written meanwhile;
 * TRANSFER_PASSES_MAX bounds them.
 *
 * Which sources (`Transfer.syncWith`): 'first', the first that answers,
 * a replica that drops the ranges, whose copy this node then takes over
 * exactly; 'each' (a dead member is removed or replaced), each surviving
 * replica in turn, so this node ends with the union of what they hold.
 *
 * Resuming: progress (pass, source, and the key the pass reached) is in
 * every answer to `transfer-progress`; the driver saves it and restarts a
 * transfer from it after a crash of this node, or after the transfer
 * failed (every source failed TRANSFER_ATTEMPTS_MAX asks in a row). A
 * resumed pass never verifies; the next whole one does.
 *
 * Throttle: this node's transfers share TRANSFER_BYTES_PER_SECOND (listings
 * and values, fetched or pushed); at most TRANSFER_STREAMS_MAX run at once.
 *
 * Thread contract: one per node, on the node's thread.
 */
import { assertNever } from '../src/core/assert.js';
import { ByteBudget } from '../src/core/byte_budget.js';
import { fromErrorRecord, type Outcome } from '../src/core/errors.js';
import {
  TRANSFER_ASK_TIMEOUT_MS,
  TRANSFER_ATTEMPTS_MAX,
  TRANSFER_BYTES_PER_SECOND,
  TRANSFER_FETCH_BATCH_MAX,
  TRANSFER_PASSES_MAX,
  TRANSFER_STREAMS_MAX,
} from '../src/core/limits.js';
import type { RingRange } from '../src/core/ring_change.js';
import type { Actor, ActorContext, ActorRef, Message } from '../src/runtime/actor.js';
import { compareKeys } from '../storage/key_order.js';
import type { Version } from '../storage/version.js';
import { REPLICA_ACTOR_ID, replicaRef } from './member_refs.js';
import type { MergeEntry, RangeDigestsPage } from './replica.js';
import { describe } from './log_text.js';

/** Actor id of a node's transfer actor. */
export const TRANSFER_ACTOR_ID = 'transfer';

/** A transfer to run on this node, as the driver gives it. */
export interface TransferSpec {
  /** Unique within the cluster's changes. */
  id: string;
  sources: string[];
  syncWith: 'first' | 'each';
  ranges: RingRange[];
  /**
   * When every coordinator held the change's pending ring view: a version
   * written from then on went to this node as well (a pending replica), so
   * a difference made only of such versions is a write in flight, not a
   * gap in the copy (see `pass`).
   */
  lateAfterMs: number;
  /** Where to resume: from a progress report the driver saved. */
  resume?: { sourceIndex: number; pass: number; cursor: Uint8Array | null; verifiedWith: string[] };
}

/** How one transfer goes. */
export interface TransferProgress {
  id: string;
  state: 'waiting' | 'running' | 'verified' | 'failed';
  /** The source the current pass compares with (index into `sources`). */
  sourceIndex: number;
  /** The pass against that source (1 = the first). */
  pass: number;
  /** Every key before this one was compared in this pass (null: the pass starts at the beginning). */
  cursor: Uint8Array | null;
  /** Sources this node was verified against. */
  verifiedWith: string[];
  /** Keys fetched from sources and merged here, and keys pushed back to a source. */
  keysFetched: number;
  keysPushed: number;
  /** Bytes of listings and values moved. */
  bytes: number;
  /** Keys the current pass found different so far (of which `earlyDifferences` with a version from before `lateAfterMs`); the last whole pass's count (null: none yet). */
  differences: number;
  earlyDifferences: number;
  lastPassDifferences: number | null;
  /** Why it failed (state 'failed'), or why a source was skipped. */
  error?: string;
}

export type TransferMsg =
  /** Ask → true: run these transfers (one already known by id is left as it is, unless it failed: then it resumes). */
  | { type: 'transfer-start'; transfers: TransferSpec[] }
  /** Ask → `TransferProgress[]` of every transfer this node knows. */
  | { type: 'transfer-progress' }
  /** Ask → true: stop and forget these transfers (all when absent). */
  | { type: 'transfer-cancel'; ids?: string[] }
  /** A throttled transfer may go on. */
  | { type: 'transfer-wake'; id: number };

interface Running {
  spec: TransferSpec;
  progress: TransferProgress;
  cancelled: boolean;
  /** A whole pass (from the first key) is running: only such a pass can verify. */
  whole: boolean;
}

/** How to spawn one. */
export interface TransferArgs {
  /** Throttle of this node's transfers together (default TRANSFER_BYTES_PER_SECOND). */
  bytesPerSecond?: number;
}

class Transfers implements Actor<TransferMsg> {
  private ctx!: ActorContext<TransferMsg>;
  private readonly transfers = new Map<string, Running>();
  private budget!: ByteBudget;
  private readonly wakes = new Map<number, () => void>();
  private nextWake = 1;

  constructor(private readonly args: TransferArgs) {}

  started(ctx: ActorContext<TransferMsg>): void {
    this.ctx = ctx;
    this.budget = new ByteBudget(this.args.bytesPerSecond ?? TRANSFER_BYTES_PER_SECOND, ctx.now());
  }

  receive(msg: TransferMsg, ctx: ActorContext<TransferMsg>): void {
    switch (msg.type) {
      case 'transfer-start':
        for (const spec of msg.transfers) this.add(spec);
        this.startWaiting();
        ctx.reply(true);
        return;
      case 'transfer-progress':
        ctx.reply([...this.transfers.values()].map((t) => ({ ...t.progress, verifiedWith: [...t.progress.verifiedWith] })));
        return;
      case 'transfer-cancel':
        for (const [id, t] of this.transfers) {
          if (msg.ids !== undefined && !msg.ids.includes(id)) continue;
          t.cancelled = true;
          this.transfers.delete(id);
        }
        ctx.reply(true);
        return;
      case 'transfer-wake': {
        const wake = this.wakes.get(msg.id);
        this.wakes.delete(msg.id);
        wake?.();
        return;
      }
      default:
        assertNever(msg);
    }
  }

  private add(spec: TransferSpec): void {
    const known = this.transfers.get(spec.id);
    if (known !== undefined && known.progress.state !== 'failed') return;
    const resume = spec.resume ?? known?.progress ?? null;
    const progress: TransferProgress = {
      id: spec.id,
      state: 'waiting',
      // A transfer that failed after trying every source starts over with the first.
      sourceIndex: resume !== null && resume.sourceIndex < spec.sources.length ? resume.sourceIndex : 0,
      pass: resume?.pass ?? 1,
      cursor: resume?.cursor ?? null,
      verifiedWith: [...(resume?.verifiedWith ?? [])],
      keysFetched: known?.progress.keysFetched ?? 0,
      keysPushed: known?.progress.keysPushed ?? 0,
      bytes: known?.progress.bytes ?? 0,
      differences: 0,
      earlyDifferences: 0,
      lastPassDifferences: null,
    };
    this.transfers.set(spec.id, { spec, progress, cancelled: false, whole: progress.cursor === null });
  }

  /** Start waiting transfers while fewer than TRANSFER_STREAMS_MAX run. */
  private startWaiting(): void {
    let running = [...this.transfers.values()].filter((t) => t.progress.state === 'running').length;
    for (const t of this.transfers.values()) {
      if (running >= TRANSFER_STREAMS_MAX) return;
      if (t.progress.state !== 'waiting') continue;
      t.progress.state = 'running';
      running++;
      void this.run(t).then(
        () => this.startWaiting(),
        (err: unknown) => {
          if (!t.cancelled) {
            t.progress.state = 'failed';
            t.progress.error = describe(err);
            this.ctx.log.warn('transfer failed; the change driver resumes it from its cursor', { id: t.spec.id, error: t.progress.error });
          }
          this.startWaiting();
        },
      );
    }
  }

  /** Sync with each source the transfer needs until verified; throws when every source failed. */
  private async run(t: Running): Promise<void> {
    const { spec, progress } = t;
    let failures = 0;
    while (!t.cancelled) {
      if (progress.sourceIndex >= spec.sources.length) {
        if (progress.verifiedWith.length === 0) throw new Error(`no source could be synced with (${progress.error ?? 'every source failed'})`);
        break; // 'each': verified with every source that answered
      }
      const source = spec.sources[progress.sourceIndex]!;
      let differences: number;
      try {
        differences = await this.pass(t, source);
        failures = 0;
      } catch (err) {
        if (t.cancelled) return;
        // This source does not answer: the next one (a pass restarts from the start with another source).
        progress.error = `${source}: ${describe(err)}`;
        if (++failures >= TRANSFER_ATTEMPTS_MAX) throw err;
        this.nextSource(t);
        continue;
      }
      progress.lastPassDifferences = differences;
      const verified = progress.earlyDifferences === 0 && t.whole;
      if (verified && !progress.verifiedWith.includes(source)) progress.verifiedWith.push(source);
      if (verified && spec.syncWith === 'first') break;
      if (verified) {
        this.nextSource(t);
        continue;
      }
      if (progress.pass >= TRANSFER_PASSES_MAX) throw new Error(`still ${differences} keys different from ${source} after ${TRANSFER_PASSES_MAX} passes (TRANSFER_PASSES_MAX); writes may be too heavy to catch up`);
      progress.pass++;
      progress.cursor = null;
      t.whole = true;
    }
    if (!t.cancelled) progress.state = 'verified';
  }

  private nextSource(t: Running): void {
    t.progress.sourceIndex = t.progress.sourceIndex + 1 < t.spec.sources.length || t.spec.syncWith === 'each' ? t.progress.sourceIndex + 1 : 0;
    t.progress.pass = 1;
    t.progress.cursor = null;
    t.whole = true;
  }

  /** One pass against `source` from the cursor to the end of the ranges; the keys that differed. */
  private async pass(t: Running, source: string): Promise<number> {
    const { spec, progress } = t;
    progress.differences = 0;
    progress.earlyDifferences = 0;
    for (;;) {
      await this.throttle();
      if (t.cancelled) return progress.differences;
      const from = progress.cursor ?? undefined;
      const theirs = await this.ask<RangeDigestsPage>(replicaRef(source), { type: 'range-digests', ranges: spec.ranges, ...(from !== undefined ? { from } : {}) });
      const to = theirs.next ?? undefined;
      const mine = await this.listLocal(spec.ranges, from, to);
      this.spend(t, listingBytes(theirs.entries) + listingBytes(mine));
      const { fetch, push } = differing(theirs.entries, mine);
      progress.differences += new Set([...fetch, ...push].map(keyHex)).size;
      // In key order, a batch at a time, so the cursor moves within the page too.
      const keys = [...fetch.map((key) => ({ key, fetch: true })), ...push.map((key) => ({ key, fetch: false }))].sort((a, b) => compareKeys(a.key, b.key));
      for (let at = 0; at < keys.length && !t.cancelled; at += TRANSFER_FETCH_BATCH_MAX) {
        const batch = keys.slice(at, at + TRANSFER_FETCH_BATCH_MAX);
        await this.fetch(t, source, batch.filter((k) => k.fetch).map((k) => k.key));
        await this.push(t, source, batch.filter((k) => !k.fetch).map((k) => k.key));
        // Every key up to the batch's last is compared and fixed: resume after it.
        if (!t.cancelled) progress.cursor = successor(batch[batch.length - 1]!.key);
        await this.throttle();
      }
      if (t.cancelled) return progress.differences;
      progress.cursor = theirs.next;
      if (theirs.next === null) return progress.differences;
    }
  }

  /** This node's (key, digest) pairs in `ranges` over [from, to). */
  private async listLocal(ranges: RingRange[], from: Uint8Array | undefined, to: Uint8Array | undefined): Promise<[Uint8Array, number][]> {
    const out: [Uint8Array, number][] = [];
    let at = from;
    for (;;) {
      const page = await this.ask<RangeDigestsPage>(this.replica, { type: 'range-digests', ranges, ...(at !== undefined ? { from: at } : {}), ...(to !== undefined ? { to } : {}) });
      for (const entry of page.entries) out.push(entry);
      if (page.next === null) return out;
      at = page.next;
    }
  }

  /** Fetch `keys` (one batch) from `source` and merge them here. */
  private async fetch(t: Running, source: string, keys: Uint8Array[]): Promise<void> {
    if (keys.length === 0) return;
    const entries = await this.read(replicaRef(source), keys);
    await this.merge(this.replica, entries);
    t.progress.keysFetched += entries.length;
    this.noteEarly(t, entries);
    this.spend(t, entryBytes(entries));
  }

  /** Read `keys` (one batch) here and merge them into `source`: what it lacks. */
  private async push(t: Running, source: string, keys: Uint8Array[]): Promise<void> {
    if (keys.length === 0) return;
    const entries = await this.read(this.replica, keys);
    await this.merge(replicaRef(source), entries);
    t.progress.keysPushed += entries.length;
    this.noteEarly(t, entries);
    this.spend(t, entryBytes(entries));
  }

  /** Count the differences with a version written before every coordinator had the pending view: not writes in flight. */
  private noteEarly(t: Running, entries: readonly MergeEntry[]): void {
    for (const { versions } of entries) if (versions.some((v) => v.ts_ms < t.spec.lateAfterMs)) t.progress.earlyDifferences++;
  }

  /** The versions `replica` holds of `keys` (keys it holds none of are left out); a key that failed fails the batch. */
  private async read(replica: ActorRef, keys: Uint8Array[]): Promise<MergeEntry[]> {
    const outcomes = await this.ask<Outcome<Version[]>[]>(replica, { type: 'get-batch', keys });
    const entries: MergeEntry[] = [];
    outcomes.forEach((outcome, i) => {
      if ('error' in outcome) throw fromErrorRecord(outcome.error);
      if (outcome.ok.length > 0) entries.push({ key: keys[i]!, versions: outcome.ok });
    });
    return entries;
  }

  private async merge(replica: ActorRef, entries: MergeEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const outcomes = await this.ask<Outcome<true>[]>(replica, { type: 'merge-batch', entries });
    for (const outcome of outcomes) if ('error' in outcome) throw fromErrorRecord(outcome.error);
  }

  private ask<R>(to: ActorRef, msg: Message): Promise<R> {
    return this.ctx.ask<R>(to, msg, TRANSFER_ASK_TIMEOUT_MS);
  }

  private get replica(): ActorRef {
    return { thread: this.ctx.self.thread, id: REPLICA_ACTOR_ID };
  }

  private spend(t: Running, bytes: number): void {
    t.progress.bytes += bytes;
    this.budget.spend(bytes, this.ctx.now());
  }

  /** Wait while this node's transfers are over their byte budget. */
  private async throttle(): Promise<void> {
    const wait = this.budget.waitMs(this.ctx.now());
    if (wait <= 0) return;
    const id = this.nextWake++;
    await new Promise<void>((resolve) => {
      this.wakes.set(id, resolve);
      this.ctx.schedule(wait, { type: 'transfer-wake', id });
    });
  }
}

/**
 * Keys that differ between a source's listing and this node's over the same
 * keys (both in key order): those to fetch (the source holds them, and this
 * node holds none or others) and those to push (this node holds them, and
 * the source holds none or others). A key whose digests differ is in both:
 * each side then holds the merge of both.
 */
export function differing(theirs: readonly [Uint8Array, number][], mine: readonly [Uint8Array, number][]): { fetch: Uint8Array[]; push: Uint8Array[] } {
  const fetch: Uint8Array[] = [];
  const push: Uint8Array[] = [];
  let i = 0;
  let j = 0;
  while (i < theirs.length || j < mine.length) {
    const order = i === theirs.length ? 1 : j === mine.length ? -1 : compareKeys(theirs[i]![0], mine[j]![0]);
    if (order < 0) fetch.push(theirs[i++]![0]);
    else if (order > 0) push.push(mine[j++]![0]);
    else {
      if (theirs[i]![1] !== mine[j]![1]) {
        fetch.push(theirs[i]![0]);
        push.push(mine[j]![0]);
      }
      i++;
      j++;
    }
  }
  return { fetch, push };
}

/** The smallest key after `key` in key order: a scan from it starts just past `key`. */
function successor(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}

function keyHex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
}

function listingBytes(entries: readonly [Uint8Array, number][]): number {
  let bytes = 0;
  for (const [key] of entries) bytes += key.length + 8;
  return bytes;
}

function entryBytes(entries: readonly MergeEntry[]): number {
  let bytes = 0;
  for (const { key, versions } of entries) {
    bytes += key.length;
    for (const v of versions) bytes += (v.value?.length ?? 0) + v.clock.length + 16;
  }
  return bytes;
}

export const actorKinds = {
  transfer: (args: unknown) => new Transfers((args ?? {}) as TransferArgs),
};
