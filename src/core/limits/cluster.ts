/**
 * Limits of the cluster: hinted handoff, membership and failure detection, placement, coordinators, checker.
 * Part of the named limits (src/core/limits.ts re-exports every file here):
 * every bound in ringkv is named in one place, units last in each name.
 */

// ---------------------------------------------------------------------------
// Hinted handoff
// ---------------------------------------------------------------------------

/** Hints older than this are dropped (Cassandra's max_hint_window, 3 hours). */
export const HINT_MAX_AGE_MS = 3 * 3600 * 1000;

/** Bytes of hints one node stores before it refuses new ones. */
export const HINT_STORE_MAX_BYTES = 256 * 1024 * 1024;

/** Hints delivered per replay batch. */
export const HINT_REPLAY_BATCH = 128;

// ---------------------------------------------------------------------------
// Membership and failure detection
// ---------------------------------------------------------------------------

/** Members one node's membership table (and its SWIM and liveness views) holds. */
export const MEMBERS_MAX = 1024;

/** Tokens one member may own on the ring. */
export const MEMBER_TOKENS_MAX = 256;

/** Length of a member id, in UTF-16 code units. */
export const MEMBER_ID_MAX_CHARS = 256;

/** Heartbeat inter-arrival intervals a phi-accrual detector remembers (Akka's max-sample-size). */
export const PHI_WINDOW_MAX_INTERVALS = 1000;

/** Membership entries sent in one gossip message (deltas beyond this wait for the next round). */
export const GOSSIP_DELTAS_MAX_ENTRIES = 64;

/** Peers one node gossips to per gossip round. */
export const GOSSIP_FANOUT_MAX = 8;

/** How long a `left` tombstone is kept so that stale gossip cannot revive the member. */
export const MEMBER_LEFT_TOMBSTONE_MS = 24 * 3600 * 1000;

/** Members asked to probe a target indirectly (SWIM's k) at most. */
export const SWIM_INDIRECT_CHECKS_MAX = 8;

/** Indirect probes (ping-req) one node relays for others at once. */
export const SWIM_RELAYS_MAX = 256;

/** SWIM updates (alive/suspect/down/left) waiting to be piggybacked. */
export const SWIM_BROADCAST_QUEUE_MAX = 1024;

/** SWIM updates piggybacked on one probe message. */
export const SWIM_PIGGYBACK_MAX_UPDATES = 8;

/** Lifeguard local-health score ceiling: timeouts stretch by at most this factor (memberlist's AwarenessMaxMultiplier). */
export const AWARENESS_MAX_MULTIPLIER = 8;

/** Distinct observers remembered per suspected member (two are enough to decide; more only add confidence). */
export const LIVENESS_OBSERVERS_MAX = 16;

/** Local actors (coordinator, hint replayer, anti-entropy, gossip) one failure detector publishes liveness changes to. */
export const LIVENESS_SUBSCRIBERS_MAX = 16;

/**
 * A node whose storage failed tells every peer's failure detector so this
 * often while it stays failed; the peers treat it as down (issue 13).
 */
export const STORAGE_STATE_ANNOUNCE_INTERVAL_MS = 1_000;

/** A peer's "storage failed" report is forgotten after this long without a repeat (its node stopped, or was cut off). */
export const STORAGE_STATE_TTL_MS = 5_000;

// ---------------------------------------------------------------------------
// Ring and placement
// ---------------------------------------------------------------------------

/** Virtual nodes (ring tokens) a member of weight 1 owns; a member of weight w owns round(w × this). */
export const RING_VNODES_PER_WEIGHT = 128;

/** Virtual nodes one member may own: its tokens travel in its membership entry, so at most MEMBER_TOKENS_MAX. */
export const RING_VNODES_MAX = MEMBER_TOKENS_MAX;

// ---------------------------------------------------------------------------
// Coordinator retries
// ---------------------------------------------------------------------------

/** Retries of one request before it fails (the first attempt is not a retry). */
export const RETRY_ATTEMPTS_MAX = 4;

/** Backoff ceiling of the first retry; doubles with each further retry. */
export const RETRY_BASE_DELAY_MS = 20;

/** Largest backoff between two attempts. */
export const RETRY_MAX_DELAY_MS = 1000;

// ---------------------------------------------------------------------------
// Coordinator
// ---------------------------------------------------------------------------

/** Deadline of one client request at its coordinator: past it the client gets a TimeoutError. */
export const REQUEST_TIMEOUT_MS = 5000;

/** How long a coordinator waits for one replica (or fallback) before it tries elsewhere or retries. */
export const REPLICA_ASK_TIMEOUT_MS = 1000;

/**
 * Extra time a replica (or hint) ask gets per whole MiB of values it carries:
 * a 4 MiB write is encoded, copied and checksummed on every hop, which takes
 * tens of ms on a busy machine; values under 1 MiB get none.
 */
export const REPLICA_ASK_MS_PER_MIB = 250;

/** Client requests one coordinator works on at once; past it new ones get OverloadedError. */
export const COORDINATOR_INFLIGHT_MAX = 4096;

/** Recent request ids a coordinator remembers, so a duplicated request is answered, not done twice. */
export const COORDINATOR_DEDUP_MAX = 8192;

/** Fallback nodes one write tries per owner it cannot reach before giving up on that owner. */
export const FALLBACK_ATTEMPTS_MAX = 3;

// ---------------------------------------------------------------------------
// Hinted handoff replay
// ---------------------------------------------------------------------------

/** Period of the hint replayer's tick: each tick starts at most one round of HINT_REPLAY_BATCH hints per owner. */
export const HINT_REPLAY_INTERVAL_MS = 250;

/** How long the hint replayer waits for an owner's replica to acknowledge one replayed hint. */
export const HINT_REPLAY_ASK_TIMEOUT_MS = 2000;

/** Backoff ceiling after an owner's first failed replay round; doubles with each further failure (full jitter). */
export const HINT_REPLAY_BACKOFF_BASE_MS = 250;

/** Largest backoff between two replay rounds to one owner; retries end when the hints expire (HINT_MAX_AGE_MS). */
export const HINT_REPLAY_BACKOFF_MAX_MS = 30_000;

/** Hint adds one handoff actor has waiting for their commit; past it new hints are refused with OverloadedError. */
export const HINT_ADDS_IN_FLIGHT_MAX = 1024;

// ---------------------------------------------------------------------------
// Consistency checker
// ---------------------------------------------------------------------------

/**
 * Operations one recorded history holds (`HistoryRecorder`, `historyFromJson`).
 * A million ops is ten times a long fault campaign and a few hundred MB of
 * memory; a longer run should check and start a new history per phase.
 */
export const HISTORY_OPS_MAX = 1_000_000;

/**
 * Violations one `checkHistory` call reports; past this the rest are dropped.
 * A thousand reports of one bug are no more useful than the first few, and the
 * bound keeps a badly broken history's report (and the work to build it) small.
 */
export const CHECK_VIOLATIONS_MAX = 1000;

// ---------------------------------------------------------------------------
// Data directory: its lock and its cluster record
// ---------------------------------------------------------------------------

/** Rounds of "create the lock, else judge its holder, else break it if stale" before `lockDir` gives up (only a storm of racing openers needs more than two). */
export const DIR_LOCK_ATTEMPTS_MAX = 16;

/** Nesting of stale-lock breakers that crashed while breaking (each needs a crash within microseconds); past it the user is told to clean up by hand. */
export const DIR_LOCK_BREAK_DEPTH_MAX = 4;

/** Pause before the next round when another live opener is breaking the same stale lock. */
export const DIR_LOCK_RETRY_DELAY_MS = 5;

/** Bytes of a data directory's cluster record (members, tokens, replication): 1,024 members of 256 tokens fit. */
export const CLUSTER_RECORD_MAX_BYTES = 16 * 1024 * 1024;

/** Largest client request deadline a cluster accepts (node timers hold at most 2^31 − 1 ms; ten minutes is already far past any quorum's answer). */
export const REQUEST_TIMEOUT_MAX_MS = 10 * 60 * 1000;
