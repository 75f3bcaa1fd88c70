/**
 * Reads at the coordinator (Dynamo 2007 §4.5), coordinated together
 * (issue 14: batching at every hop): the reads of one `get-batch`, and a
 * lone `get` as a batch of one.
 * A RESP pipeline's GETs arrive as one message; alone, each would cost N
 * replica asks, a quorum timer and a dozen promises. Together:
 *
 *   1. one `get-batch` ask per owner carries every key that owner holds
 *      (owners held down are recorded as failures at once);
 *   2. one deadline timer for the batch; each read is answered as soon as
 *      its own R answers are in (or its failure is certain);
 *   3. once every owner of a key answered or failed, that key's read repair
 *      and tombstone confirmation run exactly as after a lone read.
 *
 * A key whose owner did not answer the batch (the ask failed, or its entry
 * failed) asks that owner again the lone way (`readFrom`: transient
 * failures retried with backoff while the read is undecided), under its own
 * deadline.
 *
 * Thread contract: the coordinator actor's.
 */
import { assert } from '../src/core/assert.js';
import { fromErrorRecord, isCorruptionError, TimeoutError, type Outcome } from '../src/core/errors.js';
import type { QuorumOutcome, QuorumTracker } from '../src/core/quorum.js';
import { retryDelayMs } from '../src/core/quorum.js';
import type { PreferenceList } from '../src/core/ring.js';
import { contextOf, dotsOf, liveSiblings, reconcileSets, type Version } from '../src/core/sibling_set.js';
import { contextToString } from '../src/core/version_id.js';
import type { ActorContext, TimerHandle } from '../src/runtime/actor.js';
import type { CoordinatorMsg, CoordinatorReceipt, GetReply, GetRequest } from './coordinator_messages.js';
import type { HeldDown } from './held_down.js';
import { describe } from './log_text.js';
import { replicaRef } from './member_refs.js';
import { BatchWait, type BatchMember, type QuorumWait } from './quorum_wait.js';
import { isTransient } from './replica_asks.js';

/** What reads need of their coordinator. */
export interface ReadHost {
  readonly self: string;
  readonly down: HeldDown;
  dc(node: string): string;
  /** How long to wait for one replica. */
  readonly replicaTimeout: number;
  sleep(ctx: ActorContext<never>, ms: number): { promise: Promise<void>; handle: TimerHandle };
  /** Members whose storage failed, for receipts (the client routes around them); undefined when none. */
  storageFailed(): string[] | undefined;
  /** Every owner of `key` answered or failed: read repair and tombstone confirmation (`answers`: who answered what). */
  afterRead(key: Uint8Array, pref: PreferenceList, answers: ReadonlyMap<string, Version[]>, damaged: ReadonlySet<string>, ctx: ActorContext<CoordinatorMsg>): void;
}

/** One read of a batch. */
export interface BatchRead {
  msg: GetRequest;
  pref: PreferenceList;
  tracker: QuorumTracker;
  /** Called once, with its answer or its error. */
  settle(result: { ok: GetReply } | { error: unknown }): void;
}

/** A read's progress. */
interface Progress extends BatchMember {
  read: BatchRead;
  answers: Map<string, Version[]>;
  /** Owners whose answer skipped a damaged table (no answer, but a repair target). */
  damaged: Set<string>;
  /** Owners whose answer or failure is not in yet. */
  pending: number;
}

/**
 * Ask one owner for `key`, retrying transient failures with backoff while
 * the read is undecided; the outcome goes into `wait`, the answer into
 * `answers`. `first`: the failure of an attempt already made (a batch's).
 */
async function readFrom(
  host: ReadHost,
  owner: string,
  key: Uint8Array,
  wait: QuorumWait,
  answers: Map<string, Version[]>,
  damaged: Set<string>,
  ctx: ActorContext<CoordinatorMsg>,
  first?: unknown,
): Promise<void> {
  const dc = host.dc(owner);
  if (host.down.has(owner)) return wait.record({ node: owner, dc, ok: false, error: host.down.reason(owner) });
  for (let attempt = 0; ; attempt++) {
    try {
      if (attempt === 0 && first !== undefined) throw first;
      const held = await ctx.ask<Version[]>(replicaRef(owner), { type: 'get', key }, host.replicaTimeout);
      answers.set(owner, held);
      return wait.record({ node: owner, dc, ok: true });
    } catch (err) {
      // A replica whose table holding the key is damaged: no answer for the quorum, but repair it afterwards.
      if (isCorruptionError(err)) damaged.add(owner);
      const delay = isTransient(err) ? retryDelayMs(attempt, ctx.random()) : null;
      if (delay === null || wait.tracker.outcome().status !== 'pending') return wait.record({ node: owner, dc, ok: false, error: describe(err) });
      await host.sleep(ctx, delay).promise;
    }
  }
}

/** Coordinate `reads` within `timeout_ms`: one `get-batch` per owner. */
export function readTogether(host: ReadHost, reads: readonly BatchRead[], timeout_ms: number, ctx: ActorContext<CoordinatorMsg>): void {
  const byOwner = new Map<string, Progress[]>();
  const live: Progress[] = reads.map((read) => ({ read, tracker: read.tracker, answers: new Map(), damaged: new Set(), own: null, decided: false, pending: read.pref.replicas.length }));
  // One deadline for the batch; a read that asks an owner again alone has its own.
  const waits = new BatchWait(live, timeout_ms, (ms) => host.sleep(ctx, ms), () => ctx.now(), (p, outcome) => {
    try {
      p.read.settle({ ok: readAnswer(host, p.read.msg, p.tracker, p.answers, outcome, timeout_ms) });
    } catch (err) {
      p.read.settle({ error: err });
    }
  });
  const ownerDone = (p: Progress): void => {
    if (--p.pending === 0) host.afterRead(p.read.msg.key, p.read.pref, p.answers, p.damaged, ctx);
  };
  const record = (p: Progress, owner: string, result: { ok: true } | { ok: false; error: string }): void => {
    waits.record(p, { node: owner, dc: host.dc(owner), ...result });
    ownerDone(p);
  };
  const alone = (p: Progress, owner: string, failure: unknown): void => {
    void readFrom(host, owner, p.read.msg.key, waits.ownWait(p), p.answers, p.damaged, ctx, failure).then(() => ownerDone(p));
  };

  for (const p of live) {
    for (const owner of p.read.pref.replicas) {
      let list = byOwner.get(owner);
      if (list === undefined) byOwner.set(owner, (list = []));
      list.push(p);
    }
  }
  for (const [owner, list] of byOwner) {
    if (host.down.has(owner)) {
      const error = host.down.reason(owner);
      for (const p of list) record(p, owner, { ok: false, error });
      continue;
    }
    const keys = list.map((p) => p.read.msg.key);
    ctx.ask<Outcome<Version[]>[]>(replicaRef(owner), { type: 'get-batch', keys }, host.replicaTimeout).then(
      (replies) => {
        assert(replies.length === list.length, 'a get-batch answers every key, in order');
        for (let j = 0; j < list.length; j++) {
          const p = list[j]!;
          const reply = replies[j]!;
          if ('ok' in reply) {
            p.answers.set(owner, reply.ok);
            record(p, owner, { ok: true });
            continue;
          }
          const err = fromErrorRecord(reply.error);
          if (isCorruptionError(err)) {
            // A damaged table: no answer for the quorum (retrying would find the same), but a repair target.
            p.damaged.add(owner);
            record(p, owner, { ok: false, error: describe(err) });
          } else {
            alone(p, owner, err);
          }
        }
      },
      (err: unknown) => {
        for (const p of list) alone(p, owner, err);
      },
    );
  }
}

/** The answer of a read whose quorum is decided (or whose deadline passed): a `GetReply`, or the error to throw. */
function readAnswer(
  host: Pick<ReadHost, 'self' | 'storageFailed'>,
  msg: GetRequest,
  tracker: QuorumTracker,
  answers: ReadonlyMap<string, Version[]>,
  outcome: QuorumOutcome | 'timeout',
  timeout_ms: number,
): GetReply {
  if (outcome === 'timeout') throw new TimeoutError(`read (r=${tracker.receipt().required}; answers from ${JSON.stringify([...answers.keys()])})`, timeout_ms);
  if (outcome.status !== 'satisfied') {
    assert(outcome.status === 'failed', 'a decided wait is satisfied or failed');
    throw outcome.error;
  }
  const { op, required, acks, failures } = outcome.receipt;
  const receipt: CoordinatorReceipt = { op, required, acks, failures, coordinator: host.self };
  const storageFailed = host.storageFailed();
  if (storageFailed !== undefined) receipt.storage_failed = storageFailed;
  const merged = reconcileSets([...answers.values()]);
  const live = liveSiblings(merged);
  return {
    values: live.map((v) => v.value),
    versions: dotsOf(live),
    timestamps: live.map((v) => v.ts_ms),
    context: msg.no_context === true ? '' : contextToString(contextOf(merged)),
    receipt,
  };
}
