/**
 * The coordinator actor: one per node; any node coordinates any request
 * (Dynamo 2007 §4.5). Its pure pieces are `src/core/sibling_set.ts`
 * (minting, reconciling, contexts), `src/core/quorum.ts` (counting replies,
 * receipts, backoff) and `src/core/placement.ts` (preference lists); this file
 * moves messages.
 *
 * Write (put, delete):
 *   1. A write is versioned on a replica of the key (dotted version vectors
 *      need the minting actor to hold every version it minted for the key).
 *      A coordinator that is not one, or whose own storage failed, forwards
 *      the request to the first owner it does not hold down. Held down
 *      means unreachable or storage failed (`held_down.ts`, issue 13).
 *   2. Refuse (UnavailableError, nothing stored) when the failure detector
 *      already holds down too many targets for W. Otherwise ask the local
 *      replica to `mint` it: under that replica's per-key chain it reads the
 *      versions it holds, takes the dot's counter from the node's durable
 *      lease (unique forever: storage/dot_lease.ts) and stores the version.
 *      No answer to the mint is IndeterminateError: it may still be stored.
 *   3. Send the whole reconciled sibling set (not only the new version) to
 *      the other N-1 owners as a `merge`. An owner held down, or one that
 *      fails, is replaced by the next healthy fallback in ring order (same
 *      data center first), which stores the set as a hint for it in its
 *      handoff actor (sloppy quorum, §4.6). Strict mode instead retries the
 *      owner with backoff and never uses fallbacks.
 *   4. Answer once W acknowledgements are in: the context of the whole set,
 *      the context the new version superseded, and the durability receipt
 *      naming each ack, whom a fallback stood in for, and the sync mode. A
 *      write that misses W (or its deadline) after the local store took it
 *      is IndeterminateError, never a plain failure: it may still spread.
 *
 * Read (get): ask the N owners (not fallbacks: hints are not readable, as in
 * Cassandra), retrying with backoff; answer once R replied with the
 * reconciled siblings and their context. After answering, wait for the rest
 * and send the reconciled set to every replica that answered something older
 * or less (read repair).
 *
 * Tombstones (issue 12, after Riak's delete mode): a tombstone may be purged
 * only once every owner holds it durably; after a delete that all N owners
 * stored themselves, and after a read where all N owners answered the same
 * all-tombstone set, the coordinator confirms it to them
 * (`tombstone_confirmation.ts`).
 *
 * Overwrite (Redis SET): a put with `overwrite` takes as its context every
 * version the minting owner holds, read under its key chain, instead of a
 * client's context: one round trip instead of a read and a write. Versions
 * the owner has not yet seen (a concurrent write acknowledged by the other
 * owners) still stay beside it as siblings: an overwrite never destroys what
 * nobody saw.
 *
 * Batches (issue 14): `put-batch` carries up to PUT_BATCH_MAX writes (a
 * RESP pipeline's, or `Cluster.putMany`'s) and `get-batch` up to
 * GET_BATCH_MAX reads in one message, with one reply holding an outcome per
 * request; each is admitted, deduplicated (writes) and counted as if it came
 * alone. Writes owned here with no owner held down, and every read, are
 * coordinated together (`put_batch.ts`, `get_batch.ts`: one ask per replica
 * for the whole batch, one deadline timer); a lone `put` or `get` goes the
 * same way as a batch of one. Other writes go alone (forwarded, or with
 * fallbacks chosen up front: `write_targets.ts`).
 *
 * Idempotency: each client request carries a request id; a duplicate of a
 * request this coordinator saw recently gets the same answer rather than a
 * second write. Replica merges are idempotent (one copy per dot), and the
 * quorum tracker counts one reply per replica.
 *
 * Thread contract: one instance on its node's thread; state is private.
 */
import { assert, assertNever } from '../src/core/assert.js';
import { IndeterminateError, InvalidRequestError, OverloadedError, TimeoutError, toErrorRecord, UnavailableError, type Outcome } from '../src/core/errors.js';
import {
  COORDINATOR_DEDUP_MAX,
  COORDINATOR_INFLIGHT_MAX,
  GET_BATCH_MAX,
  PUT_BATCH_MAX,
  REPLICA_ASK_TIMEOUT_MS,
  REQUEST_TIMEOUT_MS,
} from '../src/core/limits.js';
import { placeReplicas } from '../src/core/placement.js';
import { QuorumTracker, type QuorumRequest } from '../src/core/quorum.js';
import type { PreferenceList } from '../src/core/ring.js';
import { RingView } from './ring_view.js';
import type { Actor, ActorContext, TimerHandle } from '../src/runtime/actor.js';
import { coordinatorRef, replicaRef } from './member_refs.js';
import { describe, describeKey } from './log_text.js';
import type { MintReply, MintRequest } from './replica.js';
import { TombstoneConfirmation } from './tombstone_confirmation.js';
import { QuorumWait } from './quorum_wait.js';
import { writeAnswer, writeTogether, type BatchWrite, type WriteHost } from './put_batch.js';
import { refuseIfUnreachable, replicateTo } from './write_targets.js';
import { readTogether, type BatchRead, type ReadHost } from './get_batch.js';
import { HeldDown } from './held_down.js';
import { sendReadRepairs } from './read_repair.js';
import type {
  BatchOutcome,
  CoordinatorArgs,
  CoordinatorMsg,
  CoordinatorStats,
  GetReply,
  GetRequest,
  PutReply,
  PutRequest,
} from './coordinator_messages.js';

import { askTimeoutMs } from './replica_asks.js';

export type * from './coordinator_messages.js';

class Coordinator implements Actor<CoordinatorMsg> {
  /** The ring, and the one a membership change in progress will commit (issue 16). */
  private readonly view: RingView;
  private readonly requestTimeout: number;
  private readonly replicaTimeout: number;
  /** Members not to use: unreachable, or their storage failed (this node's own: it forwards writes instead of minting). */
  private readonly down: HeldDown;
  /** Recent requests by id, oldest first (bounded by COORDINATOR_DEDUP_MAX). */
  private readonly recent = new Map<string, Promise<unknown>>();
  private inflight = 0;
  private readonly wakers = new Map<number, () => void>();
  /** Confirms tombstones every owner holds durably, so compaction may purge them. */
  private readonly tombstones: TombstoneConfirmation;
  private nextWake = 1;
  private readonly stats: CoordinatorStats = { puts: 0, batches: 0, batched_writes: 0, batched_together: 0, gets: 0, forwarded: 0, duplicates: 0, fallback_writes: 0, read_repairs: 0, failed: 0, held_down: [], storage_failed: [] };

  /** What a batch of writes needs of this coordinator (`put_batch.ts`). */
  private readonly writeHost: WriteHost;
  /** What reads need of this coordinator (`get_batch.ts`). */
  private readonly readHost: ReadHost;

  constructor(private readonly args: CoordinatorArgs) {
    this.view = new RingView(args.ring, args.pending_ring ?? null, args.ring_version ?? 0, args.previous_ring ?? null);
    this.down = new HeldDown(args.self);
    assert(this.view.dcOf(args.self) !== undefined, 'the coordinator is a member of its ring');
    this.requestTimeout = args.request_timeout_ms ?? REQUEST_TIMEOUT_MS;
    this.replicaTimeout = args.replica_timeout_ms ?? REPLICA_ASK_TIMEOUT_MS;
    this.tombstones = new TombstoneConfirmation(this.replicaTimeout);
    this.writeHost = {
      self: args.self,
      down: this.down,
      dc: (node) => this.dc(node),
      askTimeout: (bytes) => this.askTimeout(bytes),
      sleep: (ctx, ms) => this.sleep(ctx as ActorContext<CoordinatorMsg>, ms),
      fallbackUsed: () => void this.stats.fallback_writes++,
      sync: args.sync_mode ?? 'batch',
      storageFailed: () => this.storageFailedMembers(),
      afterDelete: (key, owners, siblings, ctx) => this.tombstones.afterDelete(key, this.view.holders(key, this.args.replication.dcs, owners), siblings, ctx),
      minted: () => void this.stats.puts++,
    };
    this.readHost = {
      self: args.self,
      down: this.down,
      dc: (node) => this.dc(node),
      replicaTimeout: this.replicaTimeout,
      sleep: (ctx, ms) => this.sleep(ctx as ActorContext<CoordinatorMsg>, ms),
      storageFailed: () => this.storageFailedMembers(),
      afterRead: (key, pref, answers, damaged, ctx) => {
        this.stats.read_repairs += sendReadRepairs(key, answers, damaged, this.replicaTimeout, ctx);
        this.tombstones.afterRead(key, this.view.holders(key, this.args.replication.dcs, pref.replicas), answers, ctx);
      },
    };
  }

  receive(msg: CoordinatorMsg, ctx: ActorContext<CoordinatorMsg>): void {
    switch (msg.type) {
      case 'put': {
        // A lone write goes the batch's way when it can (a batch of one: fewer asks, one timer).
        const replier = ctx.replier();
        const answer = (result: { ok: PutReply } | { error: unknown }): void => ('ok' in result ? replier?.ok(result.ok) : replier?.fail(result.error));
        const pref = this.ownedAndReachable(msg);
        if (pref !== null) return writeTogether(this.writeHost, [this.togetherWrite(msg, pref, answer)], this.timeoutOf(msg), ctx);
        this.admit(msg, ctx).then((ok) => answer({ ok }), (err: unknown) => answer({ error: err }));
        return;
      }
      case 'get': {
        const replier = ctx.replier();
        if (this.inflight >= COORDINATOR_INFLIGHT_MAX) return replier?.fail(this.overloaded());
        const read = this.togetherRead(msg, (result) => ('ok' in result ? replier?.ok(result.ok) : replier?.fail(result.error)));
        return readTogether(this.readHost, [read], this.timeoutOf(msg), ctx);
      }
      case 'put-batch':
        return this.batch(msg.requests, ctx);
      case 'get-batch':
        return this.getBatch(msg.requests, ctx);
      case 'liveness':
        this.down.apply(msg);
        return;
      case 'wake': {
        const wake = this.wakers.get(msg.id);
        this.wakers.delete(msg.id);
        wake?.();
        return;
      }
      case 'stats':
        return ctx.reply({ ...this.stats, held_down: this.down.unreachableMembers(), storage_failed: this.down.storageFailedMembers() });
      case 'ring-update':
        this.view.apply(msg);
        return ctx.reply(true);
      default:
        assertNever(msg);
    }
  }

  /** Dedupe, bound, run a write alone: its answer. */
  private admit(msg: PutRequest, ctx: ActorContext<CoordinatorMsg>): Promise<PutReply> {
    const seen = this.recent.get(msg.request_id);
    if (seen) {
      this.stats.duplicates++;
      return seen as Promise<PutReply>;
    }
    if (this.inflight >= COORDINATOR_INFLIGHT_MAX) return Promise.reject(this.overloaded());
    this.inflight++;
    const work = this.put(msg, ctx);
    this.remember(msg.request_id, work);
    work.then(
      () => this.inflight--,
      () => {
        this.inflight--;
        this.stats.failed++;
      },
    );
    return work;
  }

  /**
   * Admit every write of a batch; answer once each has an outcome. Writes
   * owned here with no owner held down go together (`put_batch.ts`: one
   * mint ask, one merge ask per owner); the others go alone.
   */
  private batch(requests: PutRequest[], ctx: ActorContext<CoordinatorMsg>): void {
    const replier = ctx.replier();
    if (requests.length > PUT_BATCH_MAX) {
      replier?.fail(new InvalidRequestError(`a put-batch of ${requests.length} writes is over the limit of ${PUT_BATCH_MAX}; split it`));
      return;
    }
    this.stats.batches++;
    this.stats.batched_writes += requests.length;
    if (requests.length === 0) return replier?.ok([]);
    const outcomes: BatchOutcome[] = new Array(requests.length);
    let left = requests.length;
    const answer = (i: number, outcome: BatchOutcome): void => {
      outcomes[i] = outcome;
      if (--left === 0) replier?.ok(outcomes);
    };
    const together: BatchWrite[] = [];
    let timeout_ms = this.requestTimeout;
    for (let i = 0; i < requests.length; i++) {
      const request = requests[i]!;
      const msg: PutRequest = request.type === 'put' ? request : { ...request, type: 'put' };
      const pref = this.ownedAndReachable(msg);
      if (pref === null) {
        this.admit(msg, ctx).then(
          (ok) => answer(i, { ok: ok as PutReply }),
          (err: unknown) => answer(i, { error: toErrorRecord(err) }),
        );
        continue;
      }
      timeout_ms = Math.min(timeout_ms, this.timeoutOf(msg));
      together.push(this.togetherWrite(msg, pref, (result) => answer(i, 'ok' in result ? result : { error: toErrorRecord(result.error) })));
    }
    this.stats.batched_together += together.length;
    if (together.length > 0) writeTogether(this.writeHost, together, timeout_ms, ctx);
  }

  /**
   * A write to coordinate with `writeTogether`: remembered by request id (a
   * duplicate gets its answer), counted in flight; `answer` gets its outcome.
   */
  private togetherWrite(msg: PutRequest, pref: PreferenceList, answer: (result: { ok: PutReply } | { error: unknown }) => void): BatchWrite {
    let resolve!: (reply: PutReply) => void;
    let reject!: (err: unknown) => void;
    const work = new Promise<PutReply>((res, rej) => ((resolve = res), (reject = rej)));
    work.catch(() => undefined); // answered through `answer`; a duplicate of the request gets `work` itself
    this.remember(msg.request_id, work);
    this.inflight++;
    const strict = msg.strict ?? this.args.replication.strict;
    const pending = this.pendingOf(msg.key, pref);
    return {
      msg,
      pref,
      pending,
      strict,
      tracker: new QuorumTracker(this.writeQuorum(msg, pref, pending, strict)),
      settle: (result) => {
        this.inflight--;
        if ('ok' in result) resolve(result.ok);
        else {
          this.stats.failed++;
          reject(result.error);
        }
        answer(result);
      },
    };
  }

  /** A read to coordinate with `readTogether`, counted in flight; `answer` gets its outcome. */
  private togetherRead(msg: GetRequest, answer: (result: { ok: GetReply } | { error: unknown }) => void): BatchRead {
    this.stats.gets++;
    this.inflight++;
    const pref = placeReplicas(this.view.ring, msg.key, this.args.replication.dcs);
    return {
      msg,
      pref,
      tracker: new QuorumTracker(this.readQuorum(msg, pref)),
      settle: (result) => {
        this.inflight--;
        if ('error' in result) this.stats.failed++;
        answer(result);
      },
    };
  }

  /** A request's deadline: its own when it names a shorter one (forwarded), else the coordinator's. */
  private timeoutOf(msg: PutRequest | GetRequest): number {
    return Math.min(msg.timeout_ms ?? this.requestTimeout, this.requestTimeout);
  }

  private overloaded(): OverloadedError {
    return new OverloadedError(`coordinator ${this.args.self} (${COORDINATOR_INFLIGHT_MAX} requests in flight)`);
  }

  /**
   * The preference list of a write this coordinator can do in a batch: it
   * owns the key, and no owner (itself included) is held down, so no owner
   * needs a fallback from the start. Null for a write to do alone (also a
   * duplicate, or one over the in-flight bound: `admit` answers those).
   */
  private ownedAndReachable(msg: PutRequest): PreferenceList | null {
    if (msg.forwarded || this.recent.has(msg.request_id) || this.inflight >= COORDINATOR_INFLIGHT_MAX) return null;
    const pref = placeReplicas(this.view.ring, msg.key, this.args.replication.dcs);
    if (!pref.replicas.includes(this.args.self)) return null;
    for (const owner of pref.replicas) if (this.down.has(owner)) return null;
    for (const target of this.pendingOf(msg.key, pref)) if (this.down.has(target)) return null;
    return pref;
  }

  /** The key's pending replicas: those a membership change in progress adds (none without one). */
  private pendingOf(key: Uint8Array, pref: PreferenceList): string[] {
    return this.view.pendingReplicas(key, this.args.replication.dcs, pref.replicas);
  }

  /** The quorum a write of `msg` to `pref` (and its `pending` replicas) needs. */
  private writeQuorum(msg: PutRequest, pref: PreferenceList, pending: readonly string[], strict: boolean): QuorumRequest {
    return {
      op: 'write',
      owners: pref.replicas.map((node) => ({ node, dc: this.dc(node) })),
      required: msg.w ?? this.args.replication.w,
      coordinatorDc: this.dc(this.args.self),
      strict,
      ...(pending.length > 0 ? { pending: pending.map((node) => ({ node, dc: this.dc(node) })) } : {}),
    };
  }

  private remember(id: string, work: Promise<unknown>): void {
    this.recent.set(id, work);
    if (this.recent.size > COORDINATOR_DEDUP_MAX) this.recent.delete(this.recent.keys().next().value!);
  }

  // -------------------------------------------------------------------------
  // Writes
  // -------------------------------------------------------------------------

  private async put(msg: PutRequest, ctx: ActorContext<CoordinatorMsg>): Promise<PutReply> {
    const self = this.args.self;
    const pref = placeReplicas(this.view.ring, msg.key, this.args.replication.dcs);
    const timeout_ms = Math.min(msg.timeout_ms ?? this.requestTimeout, this.requestTimeout);
    if (!pref.replicas.includes(self)) {
      if (msg.forwarded) throw new UnavailableError(0, 1, `${self} was forwarded a write it holds no replica of; ring views disagree`);
      return this.forward(msg, pref, timeout_ms, ctx);
    }
    const selfFailed = this.down.storageFailure(self);
    if (selfFailed !== undefined) {
      // This node's storage failed: it cannot mint; the next owner not held down does (nothing was stored here).
      if (msg.forwarded) throw new UnavailableError(0, 1, `the storage of ${self}, an owner this write was forwarded to, failed (${selfFailed})`, 'nothing was applied: retry');
      return this.forward(msg, pref, timeout_ms, ctx);
    }
    this.stats.puts++;
    const strict = msg.strict ?? this.args.replication.strict;
    const pending = this.pendingOf(msg.key, pref);
    const request = this.writeQuorum(msg, pref, pending, strict);
    // Nothing is stored yet: a write the failure detector already knows cannot reach W fails for certain.
    refuseIfUnreachable(this.writeHost, request, pref);
    const tracker = new QuorumTracker(request);
    const start = ctx.now();
    const mint: MintRequest = { type: 'mint', key: msg.key, value: msg.value, context: msg.context, overwrite: msg.overwrite === true, node: self, ...(msg.no_context ? { no_context: true } : {}) };
    let minted: MintReply;
    try {
      minted = await ctx.ask<MintReply>(replicaRef(self), mint, Math.min(this.askTimeout(msg.value?.length ?? 0), timeout_ms));
    } catch (err) {
      // An answer is definite (refused, invalid); no answer is not: the local store may still take it.
      if (err instanceof TimeoutError) throw new IndeterminateError(`write of ${describeKey(msg.key)} on ${self}`, describe(err));
      throw err;
    }
    const wait = new QuorumWait(tracker, Math.max(1, timeout_ms - (ctx.now() - start)), (ms) => this.sleep(ctx, ms));
    wait.record({ node: self, dc: this.dc(self), ok: true });
    const refusals: string[] = [];
    const usedFallbacks = new Set<string>(pending); // pending replicas are targets already, never fallbacks
    const replications: Promise<boolean>[] = [];
    for (const owner of [...pref.replicas, ...pending]) {
      if (owner === self) continue;
      replications.push(replicateTo(this.writeHost, owner, msg.key, minted.siblings, pref, strict, wait, usedFallbacks, refusals, ctx));
    }
    if (msg.value === null) {
      // A delete every owner stored itself (this one minted it): all hold its tombstones.
      void Promise.all(replications).then((direct) => {
        if (direct.every(Boolean)) this.writeHost.afterDelete(msg.key, pref.replicas, minted.siblings, ctx);
      });
    }
    return writeAnswer(this.writeHost, msg, minted, tracker, await wait.done, timeout_ms, refusals);
  }

  /**
   * Hand a write to the first owner not held down. Its answer, error included,
   * is final: an owner that timed out may still have minted the write, and a
   * second owner minting it again would make a duplicate sibling.
   */
  private forward(msg: PutRequest, pref: PreferenceList, timeout_ms: number, ctx: ActorContext<CoordinatorMsg>): Promise<PutReply> {
    const owner = pref.replicas.find((node) => !this.down.has(node) && node !== this.args.self);
    if (owner === undefined) {
      const why = pref.replicas.map((node) => `${node}: ${this.down.reason(node)}`).join('; ');
      return Promise.reject(new UnavailableError(0, 1, `every owner of this key is held down, none can coordinate the write (${why})`));
    }
    this.stats.forwarded++;
    // The owner gets a little less time than we wait, so its own TimeoutError reaches us.
    const inner = Math.max(1, timeout_ms - Math.min(this.replicaTimeout / 4, timeout_ms / 4));
    return ctx.ask<PutReply>(coordinatorRef(owner), { ...msg, forwarded: true, timeout_ms: inner }, timeout_ms).catch((err: unknown) => {
      // No answer from the owner: it may have minted and stored the write.
      if (err instanceof TimeoutError) throw new IndeterminateError(`write of ${describeKey(msg.key)} forwarded to ${owner}`, describe(err));
      throw err;
    });
  }

  // -------------------------------------------------------------------------
  // Reads
  // -------------------------------------------------------------------------

  /** The reads of a `get-batch`, coordinated together (`get_batch.ts`); one answer with an outcome per read. */
  private getBatch(requests: GetRequest[], ctx: ActorContext<CoordinatorMsg>): void {
    const replier = ctx.replier();
    if (requests.length > GET_BATCH_MAX) {
      replier?.fail(new InvalidRequestError(`a get-batch of ${requests.length} reads is over the limit of ${GET_BATCH_MAX}; split it`));
      return;
    }
    if (this.inflight + requests.length > COORDINATOR_INFLIGHT_MAX) return replier?.fail(this.overloaded());
    if (requests.length === 0) return replier?.ok([]);
    const outcomes: Outcome<GetReply>[] = new Array(requests.length);
    let left = requests.length;
    let timeout_ms = this.requestTimeout;
    const reads = requests.map((msg, i) => {
      timeout_ms = Math.min(timeout_ms, this.timeoutOf(msg));
      return this.togetherRead(msg, (result) => {
        outcomes[i] = 'ok' in result ? result : { error: toErrorRecord(result.error) };
        if (--left === 0) replier?.ok(outcomes);
      });
    });
    readTogether(this.readHost, reads, timeout_ms, ctx);
  }

  /** The quorum a read of `msg` from `pref` needs. */
  private readQuorum(msg: GetRequest, pref: PreferenceList): QuorumRequest {
    return {
      op: 'read',
      owners: pref.replicas.map((node) => ({ node, dc: this.dc(node) })),
      required: msg.r ?? this.args.replication.r,
      coordinatorDc: this.dc(this.args.self),
      strict: false, // reads never add fallbacks, so there is nothing for strict mode to refuse
    };
  }

  // -------------------------------------------------------------------------

  /** Members whose storage failed, for receipts: the client does not pick them as coordinator (undefined when none). */
  private storageFailedMembers(): string[] | undefined {
    return this.down.anyStorageFailed ? this.down.storageFailedMembers() : undefined;
  }

  /** The deadline of a replica or hint ask carrying `bytes` of values (replica_asks.ts). */
  private askTimeout(bytes: number): number {
    return askTimeoutMs(this.replicaTimeout, bytes);
  }

  private dc(node: string): string {
    const dc = this.view.dcOf(node);
    if (dc === undefined) throw new InvalidRequestError(`node ${node} is not on this coordinator's ring`);
    return dc;
  }

  /** A promise resolved after `ms` of actor time (a timer message to self). */
  private sleep(ctx: ActorContext<CoordinatorMsg>, ms: number): { promise: Promise<void>; handle: TimerHandle } {
    const id = this.nextWake++;
    const promise = new Promise<void>((resolve) => this.wakers.set(id, resolve));
    const timer = ctx.schedule(ms, { type: 'wake', id });
    return {
      promise,
      handle: {
        cancel: () => {
          timer.cancel();
          this.wakers.delete(id);
        },
      },
    };
  }
}

/** Build a coordinator (exported for the simulator and tests). */
export function coordinator(args: CoordinatorArgs): Actor<CoordinatorMsg> {
  return new Coordinator(args);
}

export const actorKinds = {
  coordinator: (args: unknown) => coordinator(args as CoordinatorArgs),
};
