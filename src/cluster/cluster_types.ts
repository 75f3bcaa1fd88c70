/**
 * The embedding API's types: what `openCluster()` (`cluster.ts`) returns and
 * takes. The RESP and HTTP servers and the consistency checker are written
 * against `Cluster`, so they work with any implementation of it (the real
 * cluster on worker threads, or a test double).
 *
 * Keys and values accept strings (UTF-8) or bytes; values come back as
 * Buffers. A causal context is an opaque string (base64url of the encoded
 * dotted version vector; '' means "no context"), so it travels unchanged in
 * RESP bulk strings, HTTP headers and JSON.
 */
import type { LinksStats } from './process_links.js';
import type { ChangePlan, MembershipChange, TransfersReport } from './membership_types.js';

export type * from './membership_types.js';
import type { ConsistencyLevel, Requirement } from '../core/consistency.js';
import type { LivenessStatus } from '../core/liveness.js';
import type { AntiEntropyArgs } from '../../actors/anti_entropy.js';
import type { DurabilityReceipt } from '../core/quorum.js';

/** A key or a value as a caller gives it. */
export type Bytes = string | Uint8Array;

/** One node of a cluster. */
export interface NodeSpec {
  /** Node id, unique in the cluster (default `n1`..`nK`). */
  id: string;
  /** Data center (default 'dc1'). */
  dc?: string;
  /** Rack within the data center (default: the node id, so every node is its own rack). */
  rack?: string;
  /** Relative share of the ring (default 1). */
  weight?: number;
}

/** Replication defaults of a cluster; every request may override w and r. */
export interface ReplicationOptions {
  /** Replicas per key (default 3; capped by the node count). Ignored when `dcs` is given. */
  n?: number;
  /** Replicas per data center, e.g. `{ dc1: 3, dc2: 2 }` (default: n in the only DC). */
  dcs?: Record<string, number>;
  /** Write acknowledgements needed (default 2 or `quorum`). */
  w?: Requirement;
  /** Read answers needed (default 2 or `quorum`). */
  r?: Requirement;
  /** Strict quorum: refuse fallback (sloppy) replicas, fail instead (default false). */
  strict?: boolean;
}

/** How to open a cluster. */
export interface ClusterOptions {
  /** How many nodes (ids n1..nK), or the nodes themselves. */
  nodes: number | NodeSpec[];
  /** Root of the nodes' data directories (`<dataDir>/<node id>/`). */
  dataDir: string;
  replication?: ReplicationOptions;
  /**
   * Commit-log durability of every node (default 'batch', `SYNC_MODE_DEFAULT`):
   * each replica fsyncs a write before acknowledging it, so an acknowledged
   * write is on disk on W replicas. 'periodic' fsyncs every
   * COMMITLOG_PERIODIC_SYNC_MS (100 ms): faster, but a write is lost if
   * every replica that stored it crashes within that window. Receipts say
   * which applied (`Receipt.sync`).
   */
  syncMode?: 'periodic' | 'batch';
  /** Deadline of one client request, ms (default REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
  /**
   * Worker threads hosting the nodes (default: the machine's cores,
   * `os.availableParallelism()`, less the one the main thread keeps; at
   * least one, at most one per node). Several nodes may
   * share a thread: each keeps its own actors and state, talks to the others
   * by messages only, and crashes alone. Fewer threads than cores' worth of
   * nodes saves the cost of waking threads that outnumber the cores.
   */
  threads?: number;
  /**
   * Active anti-entropy (issue 15): replicas compare hash trees now and then
   * and fetch from each other what differs. On by default; false turns it
   * off, an object tunes it (each field defaults to the named limit in
   * src/core/limits/anti_entropy.ts).
   */
  antiEntropy?: boolean | AntiEntropyOptions;
  /**
   * Run the cluster across processes, on one host or several (issue 16):
   * this process hosts `nodes` (their ids unique across the cluster) and
   * reaches the others over TCP. Absent: every node runs here.
   */
  peers?: PeersOptions;
  /**
   * Throttle of the transfers of membership changes (issue 16): bytes per
   * second each node's transfers move together (default
   * TRANSFER_BYTES_PER_SECOND, 16 MiB).
   */
  transfers?: { bytesPerSecond?: number };
}

/** How a process of a multi-process cluster reaches the others. */
export interface PeersOptions {
  /**
   * `host:port` this process's peer listener binds, and the address the
   * others dial it at (so not 0.0.0.0): e.g. "127.0.0.1:7010".
   */
  listen: string;
  /**
   * `host:port` of peer processes to contact (this process's own address may
   * be among them). A new cluster is formed from the nodes of every seed,
   * once all have answered; a process with a cluster record starts at once.
   */
  seeds: readonly string[];
  /**
   * The cluster secret, the same in every process, at least
   * CLUSTER_SECRET_MIN_BYTES: peers prove they hold it (an HMAC challenge)
   * before any message is accepted; it is never sent.
   */
  secret: string | Uint8Array;
}

/** Tuning of active anti-entropy. */
export type AntiEntropyOptions = Pick<AntiEntropyArgs, 'leafBits' | 'intervalMs' | 'rebuildIntervalMs' | 'bytesPerSecond'>;

/** Options of a write (put or delete). */
export interface WriteOptions {
  /** The causal context from a previous get or put; '' or absent = none. */
  context?: string;
  /** Acknowledgements needed: a count or a level (overrides the cluster default). */
  w?: Requirement;
  /** A named level; same as passing it as `w`. */
  consistency?: ConsistencyLevel;
  /** Strict quorum for this request (overrides the cluster default). */
  strict?: boolean;
  /**
   * Supersede every version the coordinating owner holds, in one round trip
   * (Redis SET semantics); `context` is ignored. A concurrent write that
   * owner has not seen yet stays as a sibling, never lost.
   */
  overwrite?: boolean;
  /**
   * False when the caller has no use for the contexts of the answer
   * (`WriteResult.context` and `superseded` are then ''): the cluster skips
   * building them, a cost per write. Default true.
   */
  returnContext?: boolean;
}

/** One write of `putMany`: `value` null writes a tombstone. */
export interface PutManyEntry {
  key: Bytes;
  value: Bytes | null;
  options?: WriteOptions;
}

/** The outcome of one write of `putMany`, in the order given. */
export type PutManyOutcome = { ok: true; result: WriteResult } | { ok: false; error: Error };

/** Options of a read. */
export interface ReadOptions {
  /** Answers needed: a count or a level (overrides the cluster default). */
  r?: Requirement;
  /** A named level; same as passing it as `r`. */
  consistency?: ConsistencyLevel;
  /** False when the caller has no use for `ReadResult.context` (it is then ''): the cluster skips building it. Default true. */
  returnContext?: boolean;
}

/** One read of `getMany`. */
export interface GetManyEntry {
  key: Bytes;
  options?: ReadOptions;
}

/** The outcome of one read of `getMany`, in the order given. */
export type GetManyOutcome = { ok: true; result: ReadResult } | { ok: false; error: Error };

/** The durability receipt of a request, plus which node coordinated it and (writes) the version made. */
export interface Receipt extends DurabilityReceipt {
  /** Node that coordinated the request (minted the version, for a write). */
  coordinator: string;
  /** Writes: the new version's dot, "actor:counter" (unique per write, cluster-wide). */
  version?: string;
  /**
   * The commit-log sync mode the acknowledging replicas ran: 'batch' means
   * each acknowledgement came after an fsync; 'periodic' means after a
   * write that is fsynced within COMMITLOG_PERIODIC_SYNC_MS (a crash of
   * every replica that stored it inside that window loses it).
   */
  sync: 'batch' | 'periodic';
}

/** What a write returns. */
export interface WriteResult {
  /** Context covering the new version and every sibling kept beside it. */
  context: string;
  /**
   * The causal context the new version actually supersedes: the one the
   * write passed, or for an overwrite what the minting owner held. A
   * version outside it that existed is kept beside the new one as a sibling.
   */
  superseded: string;
  receipt: Receipt;
}

/** What a read returns. */
export interface ReadResult {
  /** Every sibling's value; [] when the key is absent or deleted. */
  values: Buffer[];
  /** Every sibling's version dot ("actor:counter"), parallel to `values`. */
  versions: string[];
  /** When each sibling was written, by its coordinator's clock (ms since the epoch), parallel to `values`. */
  timestamps: number[];
  /** Context to pass to the next write so it supersedes exactly these siblings. */
  context: string;
  receipt: Receipt;
}

/** One version a replica holds, as `explain` shows it. */
export interface ExplainedVersion {
  /** Its dot, "actor:counter". */
  version: string;
  /** The value, or null for a tombstone. */
  value: Buffer | null;
  /** When it was written (node clock, ms). */
  ts_ms: number;
}

/** Where a key lives and what each replica holds. */
export interface ExplainResult {
  key: Buffer;
  /** The key's position on the ring (53-bit). */
  position: number;
  /** The N intended replicas, in preference order. */
  preferenceList: string[];
  /** Fallback nodes in ring order (where hints go when an owner is down). */
  fallbacks: string[];
  /** Per intended replica: its versions, or why it could not be asked. */
  replicas: { node: string; running: boolean; versions: ExplainedVersion[] | null; error?: string }[];
  /** Hints waiting for an owner of this key, per node holding them: { holder: { owner: count } }. */
  hintsPending: Record<string, Record<string, number>>;
  /**
   * Active anti-entropy of the key's replica group (the owners as a set),
   * as each running owner saw it: when it last completed an exchange of
   * that group with each other owner, and what it found. Absent when
   * anti-entropy is off.
   */
  antiEntropy?: ExplainedExchanges;
}

/** `ExplainResult.antiEntropy`. */
export interface ExplainedExchanges {
  /** The replica group: the owners, sorted, comma-separated. */
  group: string;
  /** One row per (owner, other owner) pair that owner could report. */
  exchanges: { node: string; peer: string; lastSuccessAgeMs: number | null; lastOutcome: 'in-sync' | 'diverged' | 'full-sync' | 'aborted' | null }[];
}

/** Progress of an anti-entropy repair pass (`Cluster.repair`), over every node. */
export interface RepairReport {
  /** True while some node still has (group, peer) pairs to exchange. */
  running: boolean;
  /** Pairs to exchange and exchanged, summed over nodes (each pair counted by both its nodes). */
  pairsTotal: number;
  pairsDone: number;
  /** Keys fetched from peers and merged during the pass. */
  keysRepaired: number;
  /** Per node: its pass, or null when it is stopped, could not be asked, or runs no anti-entropy. */
  nodes: Record<string, { pass: number; running: boolean; pairsTotal: number; pairsDone: number; pending: string[]; keysRepaired: number } | null>;
}

/** Active anti-entropy of one node, in `MemberStatus.antiEntropy`. */
export interface AntiEntropyStatus {
  /** Exchanges completed, by what they found, and abandoned (`aborted`). */
  exchanges: { 'in-sync': number; diverged: number; 'full-sync': number; aborted: number };
  keysRepaired: number;
  bytesSent: number;
  bytesFetched: number;
  /** Replica groups the node belongs to, and those whose last exchange with some peer found a difference, failed, or never ran. */
  groups: number;
  groupsOutOfSync: number;
  /** The longest a (group, peer) pair of this node has gone without a completed exchange. */
  oldestExchangeAgeMs: number;
  treeBytes: number;
  treeKeys: number;
  treesReady: boolean;
}

/** One member in `status`. */
export interface MemberStatus {
  id: string;
  dc: string;
  rack: string;
  weight: number;
  /** False after `crash` until `restart`; for a node of another process, whether it answered this status. */
  running: boolean;
  /** In a cluster of several processes: the peer address of the process hosting it. */
  host?: string;
  /** Share of the ring it owns (0..1). */
  ownership: number;
  /** How each running node's failure detector sees it. */
  seenBy: Record<string, LivenessStatus>;
  /** Hints this node holds for others, or null when it could not be asked. */
  hintsHeld: number | null;
  /**
   * Live keys its replica holds (keys with a version that is not deleted,
   * each counted once), from a background scan at most a second old while
   * writes come in; null when it could not be asked (or its first count is
   * still running). DBSIZE is the sum over members divided by N.
   */
  keysEstimate: number | null;
  /**
   * Its storage as its replica reports it: `ok`, or `failed` with the cause
   * and what to do (the node then serves no data and every coordinator
   * treats it as down). Null when it is stopped or could not be asked;
   * absent from implementations that do not report it.
   */
  storage?: StorageStatus | null;
  /** What the node did since its thread last started, or null when it is stopped or could not be asked. */
  counters: NodeCounters | null;
  /**
   * The phi-accrual suspicion (Hayashibara 2004) this node's failure
   * detector holds of each peer, by peer node id; finite (capped at
   * PHI_REPORTED_MAX). Null when it is stopped or could not be asked; `{}`
   * when its detector does not run phi.
   */
  phi: Record<string, number> | null;
  /** Its anti-entropy (issue 15), or null when it is stopped, could not be asked, or runs none. */
  antiEntropy?: AntiEntropyStatus | null;
  /** Its part in the membership change in progress (issue 16): joining, leaving (decommissioned), or removed (dead, removed or replaced); absent when none. */
  membership?: 'joining' | 'leaving' | 'removed';
}

/** A node's storage health (`MemberStatus.storage`). */
export type StorageStatus = (
  | { state: 'ok' }
  | {
      /** It cannot open, or a write failed it for good; it tries to open again every STORAGE_REOPEN_INTERVAL_MS. */
      state: 'failed';
      /** What failed, e.g. "corruption in /data/n1/MANIFEST at offset 88: manifest: checksum mismatch". */
      cause: string;
      /** What an operator can do about it. */
      advice: string;
      /** Since when (the node's clock, ms since the epoch). */
      since_ms: number;
    }
) & {
  /**
   * SSTable checksum failures its reads met since its replica started, per
   * file (one per damaged table: the table is skipped afterwards and
   * quarantined). Counted like `NodeCounters`.
   */
  checksumFailures: Record<string, number>;
  /** Damaged tables it moved to `<node dir>/quarantine/` since its replica started (never deleted). */
  quarantined: string[];
};

/**
 * One node's event counters, cumulative since that node's thread last
 * started (a crash and restart starts them again from 0, as do restarts of
 * the actor that keeps one). Read them as Prometheus counters: a value lower
 * than the last one seen means a restart.
 */
export interface NodeCounters {
  /** Read-repair writes its coordinator sent to stale replicas. */
  readRepairs: number;
  /** Hints it stored for unreachable owners (Dynamo 2007 §4.6). */
  hintsStored: number;
  /** Hints it delivered to their owners (and dropped). */
  hintsReplayed: number;
  /** Compactions its storage engine finished. */
  compactions: number;
  /**
   * Dot conflicts its storage engine met (one dot naming two values, issue
   * 12): an invariant violation, each detection counted; 0 in a healthy node.
   */
  dotConflicts: number;
}

/** The whole cluster at a glance. */
export interface ClusterStatus {
  members: MemberStatus[];
  /** In a cluster of several processes: this process's links to the others. */
  links?: LinksStats;
  /** The membership change in progress (issue 16), or null; absent from implementations without membership changes. */
  membership?: TransfersReport | null;
  replication: { n: number; dcs: Record<string, number>; w: Requirement; r: Requirement; strict: boolean };
}

/** A running cluster. Every method is safe to call concurrently. */
export interface Cluster {
  /** Node ids, in ring-building order. */
  readonly nodes: readonly string[];
  put(key: Bytes, value: Bytes, options?: WriteOptions): Promise<WriteResult>;
  /**
   * Many writes at once, batched: one message per coordinator (up to
   * PUT_BATCH_MAX writes each) instead of one per write. Not atomic: each
   * write succeeds or fails on its own, and the answer says which.
   */
  putMany(entries: readonly PutManyEntry[]): Promise<PutManyOutcome[]>;
  get(key: Bytes, options?: ReadOptions): Promise<ReadResult>;
  /**
   * Many reads at once, batched: one message per coordinator (up to
   * GET_BATCH_MAX reads each), one replica ask per owner for all its keys.
   * Each read succeeds or fails on its own, and the answer says which.
   */
  getMany(entries: readonly GetManyEntry[]): Promise<GetManyOutcome[]>;
  /** Writes a tombstone that supersedes what `context` covers. */
  delete(key: Bytes, options?: WriteOptions): Promise<WriteResult>;
  explain(key: Bytes): Promise<ExplainResult>;
  status(): Promise<ClusterStatus>;
  /**
   * Start an anti-entropy repair pass on every running node: each exchanges
   * every replica group it belongs to with every other member of it, now
   * (within the repair byte budget). Resolves at once with the progress;
   * poll `repairProgress` until `running` is false.
   */
  repair(): Promise<RepairReport>;
  /** Progress of the last repair pass of every node, without starting one. */
  repairProgress(): Promise<RepairReport>;
  /** Terminate node `id`'s thread for real (a crash: unsynced data is lost). */
  crash(id: string): Promise<void>;
  /** Start node `id` again; it recovers from its commit log and SSTables. */
  restart(id: string): Promise<void>;
  /** Cut the network between groups (nodes in different groups cannot talk). */
  partition(groups: string[][]): Promise<void>;
  /** Undo every partition. */
  heal(): Promise<void>;
  /**
   * What a membership change would do (issue 16), without doing it: the
   * ring's shares before and after, each transfer (which node receives
   * which share of the ring from whom) and the share of all copies that
   * moves. Throws `InvalidRequestError` for a change that cannot apply.
   */
  planChange(change: MembershipChange): Promise<ChangePlan>;
  /**
   * Run a membership change to its end while the cluster serves: join a
   * node, decommission one (it streams its ranges away, then stops), remove
   * a dead one (its ranges are copied again from the survivors), or replace
   * a dead one with a new node on its tokens. Resolves with the plan once
   * the new ring is committed everywhere; the change is saved as it goes,
   * and resumes after a crash when the cluster opens again. One at a time.
   * `wait: false` resolves as soon as the change started (follow it with
   * `transfers`).
   */
  changeMembership(change: MembershipChange, options?: { wait?: boolean }): Promise<ChangePlan>;
  /** Shorthands of `changeMembership`. */
  addNode(node: NodeSpec): Promise<ChangePlan>;
  decommission(id: string): Promise<ChangePlan>;
  removeNode(id: string): Promise<ChangePlan>;
  replace(deadId: string, node: NodeSpec): Promise<ChangePlan>;
  /** The membership change in progress and its transfers (keys and bytes moved, rate, time left); `change` null when none. */
  transfers(): Promise<TransfersReport>;
  /** Flush every node and release threads, files and LMDB. */
  close(): Promise<void>;
}

