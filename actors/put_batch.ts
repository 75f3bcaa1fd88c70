/**
 * The writes of one `put-batch`, coordinated together (issue 14: batching
 * at every hop). A RESP pipeline's SETs, or `Cluster.putMany`'s writes,
 * arrive as one message; alone, each would cost its own mint ask, one merge
 * ask per other owner, a quorum timer and a dozen promises. Together:
 *
 *   1. one `mint-batch` ask to this node's replica mints every write (each
 *      as a lone `mint` would: its key's chain, the durable dot lease);
 *   2. one `merge-batch` ask per other owner carries every write that owner
 *      replicates, with its whole sibling set;
 *   3. one deadline timer for the batch; each write is answered as soon as
 *      its own quorum is decided (its W acknowledgements, or its failure).
 *
 * Each write keeps its own semantics: its own quorum, receipt, error and
 * idempotency. A write whose owner did not take its merge (the ask failed,
 * or its entry failed) leaves the batch for that owner and goes the lone
 * write's way (`write_targets.ts`: strict retries, or a fallback holding
 * a hint), under its own deadline. Writes the coordinator cannot do
 * together (an owner held down, not an owner here, a duplicate request id)
 * never come here: `coordinator.ts` runs them alone.
 *
 * Thread contract: the coordinator actor's; one call per batch.
 */
import { assert } from '../src/core/assert.js';
import { fromErrorRecord, IndeterminateError, TimeoutError, type Outcome } from '../src/core/errors.js';
import type { QuorumOutcome, QuorumTracker } from '../src/core/quorum.js';
import type { PreferenceList } from '../src/core/ring.js';
import { contextOf, type Version } from '../src/core/sibling_set.js';
import { contextToString } from '../src/core/version_id.js';
import type { ActorContext } from '../src/runtime/actor.js';
import type { CoordinatorMsg, CoordinatorReceipt, PutReply, PutRequest } from './coordinator_messages.js';
import { describe, describeKey } from './log_text.js';
import { replicaRef } from './member_refs.js';
import { BatchWait, type BatchMember } from './quorum_wait.js';
import type { MergeEntry, MintReply, MintRequest } from './replica.js';
import { valueBytes } from './replica_asks.js';
import { replicateTo, type TargetHost } from './write_targets.js';

/** What a batch needs of its coordinator. */
export interface WriteHost extends TargetHost {
  /** The replicas' sync mode, for receipts. */
  readonly sync: 'batch' | 'periodic';
  /** Members whose storage failed, for receipts (the client routes around them); undefined when none. */
  storageFailed(): string[] | undefined;
  /** Every owner stored the delete itself: confirm its tombstones (tombstone_confirmation.ts). */
  afterDelete(key: Uint8Array, owners: readonly string[], siblings: readonly Version[], ctx: ActorContext<CoordinatorMsg>): void;
  /** A write was minted here. */
  minted(): void;
}

/** One write of a batch. */
export interface BatchWrite {
  msg: PutRequest;
  pref: PreferenceList;
  /** Its pending replicas (a membership change streams to them): written like owners, counted by the tracker (`QuorumRequest.pending`). */
  pending: readonly string[];
  strict: boolean;
  /** Its quorum: owners, requirement. */
  tracker: QuorumTracker;
  /** Called once, with its answer or its error. */
  settle(result: { ok: PutReply } | { error: unknown }): void;
}

/** A write's progress inside the batch. */
interface Progress extends BatchMember {
  write: BatchWrite;
  minted: MintReply | null;
  /** Owners other than this node whose outcome is not known yet, and whether all took it themselves. */
  remotes: number;
  allDirect: boolean;
  used: Set<string> | null;
  refusals: string[] | null;
}

/** Coordinate `writes` (every one owned here, no owner held down) within `timeout_ms`. */
export function writeTogether(host: WriteHost, writes: readonly BatchWrite[], timeout_ms: number, ctx: ActorContext<CoordinatorMsg>): void {
  const start = ctx.now();
  const requests: MintRequest[] = new Array(writes.length);
  let bytes = 0;
  for (let i = 0; i < writes.length; i++) {
    const { msg } = writes[i]!;
    requests[i] = { type: 'mint', key: msg.key, value: msg.value, context: msg.context, overwrite: msg.overwrite === true, node: host.self, ...(msg.no_context ? { no_context: true } : {}) };
    bytes += msg.value?.length ?? 0;
  }
  ctx.ask<Outcome<MintReply>[]>(replicaRef(host.self), { type: 'mint-batch', requests }, Math.min(host.askTimeout(bytes), timeout_ms)).then(
    (outcomes) => {
      assert(outcomes.length === writes.length, 'a mint-batch answers every mint, in order');
      replicate(host, writes, outcomes, Math.max(1, timeout_ms - (ctx.now() - start)), ctx);
    },
    (err: unknown) => {
      // An answer is definite (refused, invalid); no answer is not: the local store may still take them.
      for (const write of writes) {
        write.settle({ error: err instanceof TimeoutError ? new IndeterminateError(`write of ${describeKey(write.msg.key)} on ${host.self}`, describe(err)) : err });
      }
    },
  );
}

/** Send the minted writes to their other owners, one `merge-batch` per owner, and answer each write once decided. */
function replicate(host: WriteHost, writes: readonly BatchWrite[], mints: Outcome<MintReply>[], timeout_ms: number, ctx: ActorContext<CoordinatorMsg>): void {
  const self = host.self;
  const selfDc = host.dc(self);
  const byOwner = new Map<string, Progress[]>();
  const live: Progress[] = [];
  for (let i = 0; i < writes.length; i++) {
    const write = writes[i]!;
    const mint = mints[i]!;
    if ('error' in mint) {
      write.settle({ error: fromErrorRecord(mint.error) }); // not stored: a definite failure
      continue;
    }
    host.minted();
    const p: Progress = { write, tracker: write.tracker, minted: mint.ok, own: null, decided: false, remotes: write.pref.replicas.length - 1 + write.pending.length, allDirect: true, used: null, refusals: null };
    live.push(p);
    for (const owner of write.pending.length === 0 ? write.pref.replicas : [...write.pref.replicas, ...write.pending]) {
      if (owner === self) continue;
      let list = byOwner.get(owner);
      if (list === undefined) byOwner.set(owner, (list = []));
      list.push(p);
    }
  }
  if (live.length === 0) return;

  // One deadline for the batch; a write that goes on alone has its own.
  const waits = new BatchWait(live, timeout_ms, (ms) => host.sleep(ctx, ms), () => ctx.now(), (p, outcome) => {
    try {
      p.write.settle({ ok: writeAnswer(host, p.write.msg, p.minted!, p.tracker, outcome, timeout_ms, p.refusals ?? []) });
    } catch (err) {
      p.write.settle({ error: err });
    }
  });
  const remoteDone = (p: Progress, direct: boolean): void => {
    p.allDirect &&= direct;
    // A delete every owner stored itself (this one minted it): all hold its tombstones (confirmed with every holder: `RingView.holders`).
    if (--p.remotes === 0 && p.allDirect && p.write.msg.value === null) host.afterDelete(p.write.msg.key, p.write.pref.replicas, p.minted!.siblings, ctx);
  };
  const alone = (p: Progress, owner: string, failure: unknown): void => {
    const { key } = p.write.msg;
    void replicateTo(host, owner, key, p.minted!.siblings, p.write.pref, p.write.strict, waits.ownWait(p), (p.used ??= new Set(p.write.pending)), (p.refusals ??= []), ctx, failure).then((direct) =>
      remoteDone(p, direct),
    );
  };

  for (const p of live) waits.record(p, { node: self, dc: selfDc, ok: true });
  for (const [owner, list] of byOwner) {
    const entries: MergeEntry[] = new Array(list.length);
    let bytes = 0;
    for (let j = 0; j < list.length; j++) {
      const siblings = list[j]!.minted!.siblings;
      entries[j] = { key: list[j]!.write.msg.key, versions: siblings };
      bytes += valueBytes(siblings);
    }
    const dc = host.dc(owner);
    ctx.ask<Outcome<true>[]>(replicaRef(owner), { type: 'merge-batch', entries }, host.askTimeout(bytes)).then(
      (replies) => {
        assert(replies.length === list.length, 'a merge-batch answers every entry, in order');
        for (let j = 0; j < list.length; j++) {
          const p = list[j]!;
          const reply = replies[j]!;
          if ('error' in reply) {
            alone(p, owner, fromErrorRecord(reply.error));
            continue;
          }
          waits.record(p, { node: owner, dc, ok: true });
          remoteDone(p, true);
        }
      },
      (err: unknown) => {
        for (const p of list) alone(p, owner, err);
      },
    );
  }
}

/**
 * The answer of a write whose quorum is decided (or whose deadline passed),
 * minted here as `minted`: a `PutReply`, or the error to throw. From the
 * mint on the version is stored on this node, so a write that misses W may
 * still spread (read repair, hints): its failure is indeterminate, never a
 * plain failure a client would retry blindly.
 */
export function writeAnswer(
  host: Pick<WriteHost, 'self' | 'sync' | 'storageFailed'>,
  msg: PutRequest,
  minted: MintReply,
  tracker: QuorumTracker,
  outcome: QuorumOutcome | 'timeout',
  timeout_ms: number,
  refusals: readonly string[],
): PutReply {
  if (outcome === 'timeout') {
    const acks = tracker.receipt().acks.map((a) => a.node);
    throw new IndeterminateError(`write of version ${minted.dot}`, `w=${tracker.receipt().required} not reached within ${timeout_ms} ms; acknowledged by ${acks.join(', ')}`);
  }
  if (outcome.status !== 'satisfied') {
    assert(outcome.status === 'failed', 'a decided wait is satisfied or failed');
    const why = refusals.length > 0 ? `hint stores of the fallbacks are full (${refusals.join('; ')})` : outcome.error.message;
    throw new IndeterminateError(`write of version ${minted.dot}`, why);
  }
  const { op, required, acks, failures } = outcome.receipt;
  const receipt: CoordinatorReceipt = { op, required, acks, failures, coordinator: host.self, version: minted.dot, sync: host.sync };
  const storageFailed = host.storageFailed();
  if (storageFailed !== undefined) receipt.storage_failed = storageFailed;
  return { context: msg.no_context === true ? '' : contextToString(contextOf(minted.siblings)), superseded: minted.superseded, receipt };
}
