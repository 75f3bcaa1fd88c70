/**
 * The coordinator's message contract (`coordinator.ts`): client requests,
 * their answers, the batch outcome, counters and spawn arguments. Kept apart
 * so callers (the cluster client, status, tests) depend on the contract, not
 * on the actor.
 */
import type { Requirement } from '../src/core/consistency.js';
import type { Outcome } from '../src/core/errors.js';
import type { DcReplicas } from '../src/core/placement.js';
import type { DurabilityReceipt } from '../src/core/quorum.js';
import type { RingMember } from '../src/core/ring.js';
import type { LivenessMsg } from './failure_detector.js';
import type { RingUpdate } from './ring_view.js';

/** A client write: `value` null is a delete (a tombstone). */
export type PutRequest = {
  type: 'put';
  /** Unique per client request; a duplicate gets the first answer. */
  request_id: string;
  key: Uint8Array;
  value: Uint8Array | null;
  /** The client's causal context ('' = none). */
  context: string;
  /** Supersede every version the minting owner holds (ignores `context`); see the file header. */
  overwrite?: boolean;
  w?: Requirement;
  strict?: boolean;
  /** Set by a coordinator that forwarded the request to an owner. */
  forwarded?: boolean;
  /** Time left for the request, ms (set when forwarded). */
  timeout_ms?: number;
  /** The client does not want contexts back (RESP SET): the reply's `context` and `superseded` are '' (building them costs per write). */
  no_context?: boolean;
};

/** A client read. */
export type GetRequest = {
  type: 'get';
  request_id: string;
  key: Uint8Array;
  r?: Requirement;
  timeout_ms?: number;
  /** The client does not want the context back (RESP GET): the reply's `context` is ''. */
  no_context?: boolean;
};

/**
 * The receipt a coordinator answers with: `sync` says when the acknowledging
 * replicas' stores called the write durable (batch: fsynced; periodic:
 * written, fsynced within the periodic window).
 */
export type CoordinatorReceipt = DurabilityReceipt & {
  coordinator: string;
  version?: string;
  sync?: 'batch' | 'periodic';
  /** Members whose storage the coordinator knows failed (absent when none): the client routes around them. */
  storage_failed?: string[];
};

/** Answer to a put. */
export interface PutReply {
  /** The context of the whole sibling set after the write (for the client's next write). */
  context: string;
  /** The causal context the new version's past is: the client's, or for an overwrite what the minting owner held. */
  superseded: string;
  receipt: CoordinatorReceipt;
}

/** Answer to a get: live siblings (values, dots and write times, parallel) and the context of the whole set. */
export interface GetReply {
  values: Uint8Array[];
  versions: string[];
  /** Each sibling's `ts_ms` (its minting node's clock), parallel to `values`: RESP GET picks the latest. */
  timestamps: number[];
  context: string;
  receipt: CoordinatorReceipt;
}

/** One write's outcome in a `put-batch` reply, in request order. */
export type BatchOutcome = Outcome<PutReply>;

/** Counters for the `stats` ask. */
export interface CoordinatorStats {
  puts: number;
  /** `put-batch` messages taken, and the writes in them (also counted in `puts` where minted here). */
  batches: number;
  batched_writes: number;
  /** Of those, the writes coordinated together (`put_batch.ts`: one mint ask, one merge ask per owner); the rest went alone. */
  batched_together: number;
  gets: number;
  forwarded: number;
  duplicates: number;
  fallback_writes: number;
  read_repairs: number;
  failed: number;
  /** Members the failure detector holds down, as this coordinator last heard. */
  held_down: string[];
  /** Members whose storage failed (held down too), as this coordinator last heard. */
  storage_failed: string[];
}

/** Messages the coordinator understands. */
export type CoordinatorMsg =
  | PutRequest
  | GetRequest
  /** Ask: up to PUT_BATCH_MAX writes → `BatchOutcome[]`. */
  | { type: 'put-batch'; requests: PutRequest[] }
  /** Ask: up to GET_BATCH_MAX reads → `Outcome<GetReply>[]`, in order (`get_batch.ts`). */
  | { type: 'get-batch'; requests: GetRequest[] }
  | LivenessMsg
  /** Timer: wake a waiting request. */
  | { type: 'wake'; id: number }
  /** Ask: counters → `CoordinatorStats`. */
  | { type: 'stats' }
  /** Ask → true: a membership change's ring view (`ring_view.ts`). */
  | RingUpdate;

/** Replication settings a coordinator applies when a request does not override them. */
export interface CoordinatorReplication {
  /** Replicas per data center (their sum is N). */
  dcs: DcReplicas;
  w: Requirement;
  r: Requirement;
  strict: boolean;
}

/** How to spawn a coordinator. */
export interface CoordinatorArgs {
  /** This node's member id. */
  self: string;
  /** The ring: every member with its placement and tokens. */
  ring: RingMember[];
  /** The ring a membership change in progress will commit (a node spawned during one); none by default. */
  pending_ring?: RingMember[] | null;
  /** The number of that ring view (`RingUpdate.version`); 0 by default. */
  ring_version?: number;
  /** The ring before a committed change whose old replicas still hold copies (`RingUpdate.previous`); none by default. */
  previous_ring?: RingMember[] | null;
  replication: CoordinatorReplication;
  /** Client request deadline (default REQUEST_TIMEOUT_MS). */
  request_timeout_ms?: number;
  /** Per-replica wait (default REPLICA_ASK_TIMEOUT_MS). */
  replica_timeout_ms?: number;
  /** The replicas' commit-log sync mode, reported in write receipts (default 'batch'). */
  sync_mode?: 'batch' | 'periodic';
}

