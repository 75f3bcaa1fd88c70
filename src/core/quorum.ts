/**
 * Quorum tracking for one request (Dynamo 2007 sections 4.5-4.6): the
 * coordinator sends a read or write to replicas, feeds each reply to a
 * `QuorumTracker`, and learns when the request is satisfied or can no longer
 * be. There is no silent partial success: the tracker fails as soon as the
 * replicas still able to answer cannot meet the requirement, with an
 * `UnavailableError` saying how many are reachable of how many needed.
 *
 * Counting rules:
 * - each replica counts once: a duplicated or late second reply from the
 *   same node is ignored (the first reply wins), so retransmissions are safe;
 * - a fallback (sloppy-quorum) replica standing in for an intended owner
 *   counts like an owner, except in strict mode, where it counts for nothing;
 * - data-center requirements (`local_quorum`, `each_quorum`) count replicas
 *   by the data center they are in: they promise copies *in* that DC;
 * - while a membership change streams ranges to new replicas (issue 16), a
 *   write also goes to the key's pending replicas, and each raises the
 *   requirement in its scope by one (Cassandra's "pending endpoints" rule):
 *   W + P acknowledgements of N + P targets, so whichever P old replicas
 *   drop the key once ownership switches, W copies remain.
 *
 * Also here: the durability receipt a request answers with, and the retry
 * backoff (exponential with full jitter, after the AWS Architecture Blog's
 * "Exponential Backoff and Jitter", 2015).
 *
 * Pure: no I/O, no clock, no randomness of its own. A tracker belongs to the
 * one actor that coordinates the request: not safe to share across threads.
 */
import { assert } from './assert.js';
import { describeRequirement, resolveRequirement, type Need, type Requirement } from './consistency.js';
import { UnavailableError } from './errors.js';
import { MEMBERS_MAX, RETRY_ATTEMPTS_MAX, RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS } from './limits.js';


/** A replica a request was sent to. */
export interface ReplicaTarget {
  /** Node id of the replica. */
  node: string;
  /** Data center the replica is in. */
  dc: string;
  /** The intended owner this fallback stands in for; absent for an owner. */
  standingInFor?: string;
}

/** A replica's answer, as the coordinator hands it to the tracker. */
export interface ReplicaReply extends ReplicaTarget {
  /** True for an acknowledgement (write) or an answer (read). */
  ok: boolean;
  /** Why it failed, when `ok` is false (for the receipt and logs). */
  error?: string;
}

/** What the tracker needs to know about a request. */
export interface QuorumRequest {
  /** A read counts answers against R, a write acknowledgements against W. */
  op: 'read' | 'write';
  /** The key's N intended replicas (owners) and their data centers. */
  owners: readonly { node: string; dc: string }[];
  /** R or W: a count or a consistency level. */
  required: Requirement;
  /** Data center of the coordinating node (for `local_quorum`). */
  coordinatorDc: string;
  /** Strict quorum: fallback replies do not count. */
  strict: boolean;
  /** Replicas the request was sent to; defaults to the owners (and the pending replicas). */
  targets?: readonly ReplicaTarget[];
  /** Members that will replicate the key once a membership change commits (writes only); none by default. */
  pending?: readonly { node: string; dc: string }[];
}

/** One acknowledgement in a receipt. */
export interface ReceiptAck {
  /** Node that acknowledged. */
  node: string;
  /** Its data center. */
  dc: string;
  /** The owner it stood in for, or null when it is an owner. */
  standingInFor: string | null;
  /** False for a fallback ack in strict mode, which did not count. */
  counted: boolean;
}

/** Which replicas hold the write (or answered the read): what a request returns. */
export interface DurabilityReceipt {
  /** The operation. */
  op: 'read' | 'write';
  /** The requirement, e.g. "quorum (2)". */
  required: string;
  /** Acknowledgements in arrival order, one per replica. */
  acks: ReceiptAck[];
  /** Replicas that answered with an error, in arrival order. */
  failures: { node: string; dc: string; error: string }[];
}

/** Where a request stands. */
export type QuorumOutcome =
  | { status: 'pending' }
  | { status: 'satisfied'; receipt: DurabilityReceipt }
  | { status: 'failed'; error: UnavailableError; receipt: DurabilityReceipt };

/**
 * Tracks replies for one request. The first decisive outcome (satisfied or
 * failed) is final; later replies still go into the receipt.
 */
export class QuorumTracker {
  /** The resolved needs; all must be met. */
  readonly needs: readonly Need[];
  /** Targets by node id, in the order they were added. */
  private readonly targets = new Map<string, ReplicaTarget>();
  /** Replies by node id (first reply per node only). */
  private readonly replies = new Map<string, ReplicaReply>();
  /** Replies in arrival order, for the receipt. */
  private readonly arrivals: ReplicaReply[] = [];
  /** The decided outcome, once decided. */
  private decided: QuorumOutcome | null = null;
  /** How the requirement reads in messages. */
  private readonly requiredText: string;

  constructor(private readonly request: QuorumRequest) {
    const perDc = new Map<string, number>();
    const ownerIds = new Set<string>();
    for (const owner of request.owners) {
      assert(!ownerIds.has(owner.node), 'each owner appears once');
      ownerIds.add(owner.node);
      perDc.set(owner.dc, (perDc.get(owner.dc) ?? 0) + 1);
    }
    const needs = resolveRequirement(request.required, perDc, request.coordinatorDc);
    const pending = request.pending ?? [];
    this.needs = pending.length === 0 ? needs : needs.map((need) => {
      const inScope = pending.filter((p) => need.dc === null || p.dc === need.dc).length;
      return { ...need, needed: need.needed + inScope, replicas: need.replicas + inScope };
    });
    this.requiredText = describeRequirement(request.required, needs) + (pending.length > 0 ? ` + ${pending.length} pending replica${pending.length === 1 ? '' : 's'}` : '');
    for (const target of request.targets ?? [...request.owners, ...pending]) this.addTarget(target);
  }

  /**
   * Note that the request was also sent to `target` (a fallback chosen after
   * an owner failed). Call it before recording the failure it replaces, or
   * the tracker may already have failed the request.
   */
  addTarget(target: ReplicaTarget): void {
    const known = this.targets.get(target.node);
    if (known) {
      assert(known.dc === target.dc && known.standingInFor === target.standingInFor, 'a target keeps its dc and role');
      return;
    }
    assert(this.targets.size < MEMBERS_MAX, 'targets are bounded by the membership size');
    this.targets.set(target.node, { ...target });
  }

  /** Record a reply (a node not yet a target becomes one) and return the outcome. */
  record(reply: ReplicaReply): QuorumOutcome {
    this.addTarget({ node: reply.node, dc: reply.dc, ...(reply.standingInFor ? { standingInFor: reply.standingInFor } : {}) });
    if (this.replies.has(reply.node)) return this.outcome();
    this.replies.set(reply.node, reply);
    this.arrivals.push(reply);
    return this.outcome();
  }

  /** The outcome now: decided once, then final. */
  outcome(): QuorumOutcome {
    if (this.decided) return this.decided;
    let allMet = true;
    for (const need of this.needs) {
      const { ok, pending } = this.count(need);
      if (ok + pending < need.needed) {
        this.decided = { status: 'failed', error: this.unavailable(need, ok + pending), receipt: this.receipt() };
        return this.decided;
      }
      if (ok < need.needed) allMet = false;
    }
    if (!allMet) return { status: 'pending' };
    this.decided = { status: 'satisfied', receipt: this.receipt() };
    return this.decided;
  }

  /** The receipt so far: every acknowledgement and failure, in arrival order. */
  receipt(): DurabilityReceipt {
    const acks: ReceiptAck[] = [];
    const failures: DurabilityReceipt['failures'] = [];
    for (const reply of this.arrivals) {
      const target = this.targets.get(reply.node)!;
      if (reply.ok) {
        acks.push({ node: target.node, dc: target.dc, standingInFor: target.standingInFor ?? null, counted: this.counts(target) });
      } else {
        failures.push({ node: target.node, dc: target.dc, error: reply.error ?? 'failed' });
      }
    }
    return { op: this.request.op, required: this.requiredText, acks, failures };
  }

  /** Successes and still-pending eligible targets in `need`'s scope. */
  private count(need: Need): { ok: number; pending: number } {
    let ok = 0;
    let pending = 0;
    for (const target of this.targets.values()) {
      if (!this.counts(target) || (need.dc !== null && target.dc !== need.dc)) continue;
      const reply = this.replies.get(target.node);
      if (!reply) pending += 1;
      else if (reply.ok) ok += 1;
    }
    return { ok, pending };
  }

  /** Whether a target's success counts at all (strict mode ignores fallbacks). */
  private counts(target: ReplicaTarget): boolean {
    return !(this.request.strict && target.standingInFor !== undefined);
  }

  private unavailable(need: Need, reachable: number): UnavailableError {
    const letter = this.request.op === 'write' ? 'w' : 'r';
    const where = need.dc === null ? '' : ` in ${need.dc}`;
    const strict = this.request.strict ? '; strict quorum: fallback replicas do not count' : '';
    const detail = `${reachable} of ${need.replicas} replicas${where} reachable, ${letter}=${this.requiredText} needed${strict}`;
    return new UnavailableError(reachable, need.needed, detail);
  }
}

/**
 * The delay before retry number `attempt` (0 = the first retry), or null when
 * the retries are used up: "full jitter", uniform in
 * [0, min(cap_ms, base_ms * 2^attempt)). `random` is one draw in [0, 1) from
 * the caller's seeded generator.
 */
export function retryDelayMs(
  attempt: number,
  random: number,
  base_ms = RETRY_BASE_DELAY_MS,
  cap_ms = RETRY_MAX_DELAY_MS,
  attemptsMax = RETRY_ATTEMPTS_MAX,
): number | null {
  assert(Number.isSafeInteger(attempt) && attempt >= 0, 'attempt is a non-negative integer');
  assert(random >= 0 && random < 1, 'random is a draw in [0, 1)');
  assert(base_ms > 0 && cap_ms >= base_ms, '0 < base <= cap');
  if (attempt >= attemptsMax) return null;
  // 2^attempt overflows nothing here: attempt < attemptsMax, and min() caps it.
  const ceiling_ms = Math.min(cap_ms, base_ms * 2 ** Math.min(attempt, 52));
  return Math.floor(random * ceiling_ms);
}
