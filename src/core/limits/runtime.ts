/**
 * Limits of the actor runtime, the simulator, and keys, values and versions.
 * Part of the named limits (src/core/limits.ts re-exports every file here):
 * every bound in ringkv is named in one place, units last in each name.
 */

// ---------------------------------------------------------------------------
// Actor runtime
// ---------------------------------------------------------------------------

/** Messages an actor's in-memory mailbox holds before senders see backpressure. */
export const MAILBOX_CAPACITY = 4096;

/** Bytes of payload space in one SPSC ring (one per directed thread pair). Power of two. */
export const RING_CAPACITY_BYTES = 1 << 20;

/**
 * Largest single frame a ring accepts; must be well under the ring size. An
 * encoded batch larger than this crosses as several frames (fragments) that
 * the receiving thread joins again (src/runtime/fragments.ts).
 */
export const RING_FRAME_MAX_BYTES = 256 * 1024;

/**
 * Largest encoded message (or batch of messages) one thread sends another,
 * and so the most bytes a receiving thread holds in reassembly per sending
 * thread: a batch over it is split, and a single message over it is refused
 * (an answer over it becomes an error answer naming this limit). Four values
 * of VALUE_MAX_BYTES fit, so a read answer may carry a few large siblings.
 */
export const RING_MESSAGE_MAX_BYTES = 16 * 1024 * 1024;

/** Messages coalesced into one ring frame (one msgpackr pack call). */
export const RING_BATCH_MAX_MESSAGES = 256;

/** Messages a thread may queue for one destination thread while its ring is full. */
export const OUTBOUND_PENDING_MAX_MESSAGES = 16384;

/**
 * Encoded bytes a thread may queue for one destination thread while its ring
 * is full: large values fill the queue long before its message count does.
 */
export const OUTBOUND_PENDING_MAX_BYTES = 256 * 1024 * 1024;

/**
 * A thread stops draining its inbound rings while it has this many messages
 * queued in its mailboxes, so a whole frame (up to RING_BATCH_MAX_MESSAGES)
 * always fits: frames stay in the ring and the sender sees backpressure,
 * instead of a full mailbox refusing messages that already left the sender.
 */
export const INBOUND_PAUSE_QUEUED_MESSAGES = MAILBOX_CAPACITY - RING_BATCH_MAX_MESSAGES;

/** Frames drained from the inbound rings before the thread yields to its event loop. */
export const INBOUND_DRAIN_MAX_FRAMES = 64;

/** Messages an actor thread dispatches in one turn before yielding to timers and I/O. */
export const DISPATCH_TURN_MAX_MESSAGES = 4096;

/** Outstanding `ask`s one thread may have in flight. */
export const ASK_PENDING_MAX = 65536;

/** Default deadline of an `ask`. */
export const ASK_DEFAULT_TIMEOUT_MS = 5000;

/** Granularity of ask deadlines: an ask times out at most this long after its deadline (one timer per thread, not per ask). */
export const ASK_DEADLINE_TICK_MS = 10;

/** Timers one actor may have scheduled at once. */
export const ACTOR_TIMERS_MAX = 1024;

/** Restarts of one actor allowed within `ACTOR_RESTART_WINDOW_MS` before it is stopped for good. */
export const ACTOR_RESTARTS_MAX = 10;
export const ACTOR_RESTART_WINDOW_MS = 60_000;

/** Logical threads (nodes) one actor system addresses, the main thread's (0) included; worker threads host them, at most as many. */
export const THREADS_MAX = 64;

/**
 * Young generation of each worker thread's V8 heap, MB (Node's default is
 * about 16 MB of semi-space). Every request allocates short-lived objects
 * (messages, versions, clocks, promises) on the node thread; a larger young
 * generation scavenges less often for the same garbage. Measured with 5
 * nodes on one worker (bench:server, 2 runs each): pipelined SET 85-91 µs
 * of CPU against 95-102 at the default, GC 13-14% of CPU against 16-18%.
 */
export const WORKER_YOUNG_GENERATION_MB = 64;

// ---------------------------------------------------------------------------
// Deterministic simulator
// ---------------------------------------------------------------------------

/** Events the simulator runs before it declares a livelock and stops. */
export const SIM_EVENTS_MAX = 5_000_000;

/** Events held in the simulator's queue at once. */
export const SIM_QUEUE_MAX = 1_000_000;

/** Trace events the simulator keeps in memory for printing on failure (the hash covers all). */
export const SIM_TRACE_TAIL_EVENTS = 4096;

/** Log lines the simulator keeps in memory (oldest dropped first). */
export const SIM_LOG_LINES_MAX = 10_000;

// ---------------------------------------------------------------------------
// Keys, values, versions
// ---------------------------------------------------------------------------

/** Largest key, in bytes. */
export const KEY_MAX_BYTES = 1024;

/**
 * Largest value, in bytes (4 MiB), on every surface: RESP, HTTP, the
 * embedding API. Storage, hints and the thread transport carry values up to
 * it; a larger one is refused with an error naming this limit.
 */
export const VALUE_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Key and value bytes of one `put-batch` message (Cluster.putMany starts a
 * new batch past it, as past PUT_BATCH_MAX writes): half of
 * RING_MESSAGE_MAX_BYTES, so a batch of large values (MSET) still crosses
 * between threads as one message. A single write is always sent, alone if
 * need be: it is at most VALUE_MAX_BYTES plus its key.
 */
export const PUT_BATCH_MAX_BYTES = RING_MESSAGE_MAX_BYTES / 2;

/** Largest opaque causal-metadata blob (encoded vector clock) of one version. */
export const CLOCK_MAX_BYTES = 4096;

/** Actor ids the clock codec keeps encoded and decoded (`dvv_codec.ts`); a cluster has a few per node. */
export const ACTOR_ID_CACHE_MAX = 1024;

/** Concurrent versions (siblings) kept for one key before writes are refused. */
export const SIBLINGS_MAX = 64;

/**
 * Concurrent versions of one key the storage layers (SSTables, compaction,
 * replay) accept. Writes are admitted against SIBLINGS_MAX per memtable, so a
 * key can exceed SIBLINGS_MAX only across memtable generations; this larger
 * bound keeps recovery and compaction from failing on what was accepted.
 */
export const SIBLINGS_STORED_MAX = SIBLINGS_MAX * 16;

/** Vector-clock entries kept before the oldest are truncated (Dynamo's default). */
export const VCLOCK_ENTRIES_MAX = 10;

/**
 * Conflicting version pairs (one dot, two values) one compaction hands back
 * to its node for reporting; it counts them all, but a corrupted table must
 * not make a compaction result unbounded.
 */
export const DOT_CONFLICTS_REPORTED_MAX = 16;

