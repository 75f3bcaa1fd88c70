/**
 * Every bound in ringkv, named (TigerBeetle: "put a limit on everything").
 * Queues, rings, buffers, retries and sizes are bounded by these constants;
 * code that needs a bound imports it from here rather than inventing a number.
 * Units are the last part of each name.
 */

// ---------------------------------------------------------------------------
// Actor runtime
// ---------------------------------------------------------------------------

/** Messages an actor's in-memory mailbox holds before senders see backpressure. */
export const MAILBOX_CAPACITY = 4096;

/** Bytes of payload space in one SPSC ring (one per directed thread pair). Power of two. */
export const RING_CAPACITY_BYTES = 1 << 20;

/** Largest single frame (one encoded batch) a ring accepts; must be well under the ring size. */
export const RING_FRAME_MAX_BYTES = 256 * 1024;

/** Messages coalesced into one ring frame (one msgpackr pack call). */
export const RING_BATCH_MAX_MESSAGES = 256;

/** Messages a thread may queue for one destination thread while its ring is full. */
export const OUTBOUND_PENDING_MAX_MESSAGES = 16384;

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

/** Timers one actor may have scheduled at once. */
export const ACTOR_TIMERS_MAX = 1024;

/** Restarts of one actor allowed within `ACTOR_RESTART_WINDOW_MS` before it is stopped for good. */
export const ACTOR_RESTARTS_MAX = 10;
export const ACTOR_RESTART_WINDOW_MS = 60_000;

/** Worker threads one actor system hosts (the main thread is thread 0). */
export const THREADS_MAX = 64;

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

/** Largest value, in bytes. */
export const VALUE_MAX_BYTES = 1024 * 1024;

/** Largest opaque causal-metadata blob (encoded vector clock) of one version. */
export const CLOCK_MAX_BYTES = 4096;

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

// ---------------------------------------------------------------------------
// Storage engine
// ---------------------------------------------------------------------------

/** A commit-log segment is closed and a new one started past this size. */
export const COMMITLOG_SEGMENT_BYTES = 32 * 1024 * 1024;

/** Largest commit-log record payload. */
export const COMMITLOG_RECORD_MAX_BYTES = 2 * 1024 * 1024;

/** Records appended by one group commit (one write + one fsync). */
export const COMMITLOG_GROUP_MAX_RECORDS = 4096;

/** Default fsync interval in `periodic` sync mode: the window of writes a crash may lose. */
export const COMMITLOG_PERIODIC_SYNC_MS = 100;

/** Appends waiting for a group commit before `append` answers `Overloaded`. */
export const COMMITLOG_PENDING_MAX_RECORDS = 65536;

/** Bytes read from a segment in one positional read during replay. */
export const COMMITLOG_REPLAY_READ_BYTES = 1024 * 1024;

/** A memtable becomes immutable and is flushed past this many bytes. */
export const MEMTABLE_FLUSH_BYTES = 16 * 1024 * 1024;

/** Immutable memtables waiting for flush before writes are pushed back. */
export const IMMUTABLE_MEMTABLES_MAX = 4;

/** Target size of an SSTable data block before compression-free cut. */
export const SSTABLE_BLOCK_BYTES = 4096;

/** Levels of the memtable skip list (branching 1/4: 4^12 = 16M entries before searches degrade). */
export const MEMTABLE_SKIPLIST_LEVELS_MAX = 12;

/** Bytes an SSTable writer buffers before one `append` to its file. */
export const SSTABLE_WRITE_CHUNK_BYTES = 1024 * 1024;

/**
 * Bytes of verified data blocks one node's SSTable block cache keeps (CLOCK
 * over slabs): at most this much memory per node, allocated as blocks are
 * read. A cache miss costs ~3x a hit (read, checksum, walk), and LMDB-style
 * stores read through the whole OS page cache, so a single-host node gets a
 * cache that holds most of a million-key table set (~163 MB) rather than a
 * fifth of it.
 */
export const SSTABLE_BLOCK_CACHE_BYTES = 128 * 1024 * 1024;

/**
 * Bytes of one block-cache slab: blocks (with their entry offsets) are copied
 * into slabs so a cache miss allocates nothing, and eviction drops a whole
 * slab at a time so its memory can be reused without tracking single blocks.
 */
export const SSTABLE_BLOCK_CACHE_SLAB_BYTES = 256 * 1024;

/**
 * Evicted slabs a block cache keeps for reuse instead of allocating (and
 * zeroing) new ones. Counted in the cache's bytes. One suffices: each new
 * slab evicts at most one, which becomes the next one's memory.
 */
export const SSTABLE_BLOCK_CACHE_FREE_SLABS_MAX = 1;

/**
 * Bytes of one chunk that SSTable reads copy returned clocks and values into
 * (bump-allocated, never rewritten): one allocation per ~30 small entries
 * instead of one each, and a value kept long keeps at most this much alive.
 */
export const SSTABLE_READ_COPY_CHUNK_BYTES = 4096;

/** Bytes an SSTable scan reads ahead in one positional read. */
export const SSTABLE_SCAN_READAHEAD_BYTES = 256 * 1024;

/** Live SSTables one manifest may list. */
export const MANIFEST_TABLES_MAX = 100_000;

/** Default bloom-filter false-positive rate (1%). */
export const BLOOM_FP_RATE_DEFAULT = 0.01;

/** Bits per key a bloom filter may use at most (bounds memory at tiny FP rates). */
export const BLOOM_BITS_PER_KEY_MAX = 32;

/** Size-tiered compaction: SSTables within this ratio of each other form a bucket. */
export const COMPACTION_BUCKET_RATIO = 1.5;

/** Size-tiered compaction: tables under this size all share one bucket (Cassandra's min_sstable_size). */
export const COMPACTION_SMALL_TABLE_BYTES = 4 * 1024 * 1024;

/** How often the compaction actor looks for work when nothing prompts it. */
export const COMPACTION_CHECK_INTERVAL_MS = 1000;

/** Size-tiered compaction: a bucket is compacted once it has this many tables. */
export const COMPACTION_MIN_THRESHOLD = 4;

/** Size-tiered compaction: at most this many tables merged in one compaction. */
export const COMPACTION_MAX_THRESHOLD = 32;

/** Worker threads in the compaction pool. */
export const COMPACTION_POOL_THREADS = 1;

/**
 * Dot counters a node reserves per durable lease record (storage/dot_lease.ts):
 * one fsynced record per this many minted writes. A restart skips what is left
 * of the block, so a larger block wastes more counter space per restart
 * (harmless: counters are f64, exact to 2^53) and costs fewer fsyncs.
 */
export const DOT_LEASE_BLOCK = 10_000;

/** A new lease block is reserved in the background once fewer than this many counters remain. */
export const DOT_LEASE_LOW_WATER = 2_000;

/**
 * Times a read of one key waits for that key's pending commit-log group
 * before giving up with OverloadedError (batch sync: a write is not visible
 * before it is on disk; a key written faster than groups complete could make
 * a reader wait forever).
 */
export const READ_DURABLE_WAITS_MAX = 64;

/**
 * Default grace period before a tombstone may be purged (Cassandra's
 * gc_grace_seconds, 10 days); it is purged only once every owner also
 * confirmed holding it. At least HINT_MAX_AGE_MS (node_plan.ts checks).
 */
export const TOMBSTONE_GRACE_MS = 10 * 24 * 3600 * 1000;

/**
 * Tombstone confirmations one coordinator has in flight (fire and forget;
 * each a `hold-tombstone` round to the N owners, then `confirm-tombstone`);
 * past it a confirmation is skipped, and a later read of the key confirms.
 */
export const TOMBSTONE_CONFIRMS_IN_FLIGHT_MAX = 256;

/** Entries returned by one range-scan page. */
export const SCAN_PAGE_MAX_ENTRIES = 1024;

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
// HTTP server
// ---------------------------------------------------------------------------

/** Bytes of one HTTP request's line and headers together (node:http's `maxHeaderSize`); beyond it the answer is 431. */
export const HTTP_HEADER_MAX_BYTES = 16 * 1024;

/** Bytes of one HTTP request body (a value); beyond it the answer is 413 and the rest is not read. The cluster's value bound applies after this one. */
export const HTTP_BODY_MAX_BYTES = 16 * 1024 * 1024;

/** How long a client may take to send the request line and headers (against slowloris); node:http answers 408 and closes. */
export const HTTP_HEADERS_TIMEOUT_MS = 10_000;

/** How long a client may take to send a whole request, body included (at least HTTP_HEADERS_TIMEOUT_MS). */
export const HTTP_REQUEST_TIMEOUT_MS = 60_000;

/** How long an idle keep-alive connection stays open waiting for the next request. */
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** How often node:http checks open connections against the headers and request timeouts (at most; shorter timeouts check more often). */
export const HTTP_CONNECTIONS_CHECK_INTERVAL_MS = 1_000;

/** Open HTTP connections at once; node:http drops connections beyond it as they arrive. */
export const HTTP_CONNECTIONS_MAX = 1024;

/** How long a graceful close waits for in-flight requests before it cuts the remaining connections. */
export const HTTP_CLOSE_GRACE_MS = 10_000;

/** Seconds a client is told to wait (Retry-After) when the cluster is overloaded. */
export const HTTP_RETRY_AFTER_S = 1;

/** How long a connection refused with 413 keeps discarding the unread body before it is closed, so the client reads the answer instead of a reset. */
export const HTTP_LINGER_MS = 2_000;

/** How long one status sample serves metrics scrapes: a scrape storm makes one status request per this period. */
export const METRICS_STATUS_CACHE_MS = 1_000;

/** How long a metrics scrape waits for the cluster's status before it reports the status as down. */
export const METRICS_STATUS_TIMEOUT_MS = 2_000;

/** Distinct (surface, command) labels of the request series; further names are counted as "other". */
export const METRICS_COMMANDS_MAX = 256;

/** Distinct (observer, peer) phi series; further pairs are dropped and counted. */
export const METRICS_PHI_PAIRS_MAX = 4096;

/** (observer, member) pairs of the per-member liveness state set; further pairs are dropped and counted. */
export const METRICS_LIVENESS_PAIRS_MAX = 4096;

// ---------------------------------------------------------------------------
// RESP server
// ---------------------------------------------------------------------------

/** Default largest bulk string a RESP client may send (Redis's proto-max-bulk-len is 512 MB; we default lower). */
export const RESP_BULK_MAX_BYTES_DEFAULT = 16 * 1024 * 1024;

/** Hard ceiling of the configurable bulk limit, like Redis's 512 MB proto-max-bulk-len. */
export const RESP_BULK_MAX_BYTES_HARD = 512 * 1024 * 1024;

/** Elements of one RESP request array (command name plus arguments). */
export const RESP_ARRAY_MAX_ELEMENTS = 65_536;

/** Largest inline (telnet-style) command line, like Redis's PROTO_INLINE_MAX_SIZE. */
export const RESP_INLINE_MAX_BYTES = 64 * 1024;

/** Largest length line ("*123\r\n", "$456\r\n"): a sign, 20 digits and CRLF fit; more is an endless line. */
export const RESP_LENGTH_LINE_MAX_BYTES = 32;

/**
 * Default bytes one connection may hold of requests received but not yet
 * parsed into whole commands (its query buffer, Redis's
 * client-query-buffer-limit). Bounds one command's total size too, so it must
 * exceed the bulk limit.
 */
export const RESP_QUERY_BUFFER_MAX_BYTES_DEFAULT = 64 * 1024 * 1024;

/** Parsed commands one connection may have waiting for their replies; past it the server stops reading the socket. */
export const RESP_PIPELINE_MAX_COMMANDS = 1024;

/** Cluster requests (get/put/delete) one connection may have in flight; a pipeline or MGET beyond it waits. */
export const RESP_CLUSTER_CALLS_PER_CONNECTION_MAX = 1024;

/** Reply bytes queued on a socket before the server stops reading that socket until the client drains them. */
export const RESP_REPLY_PENDING_MAX_BYTES = 8 * 1024 * 1024;

/** Default connected clients at once (Redis's maxclients default). */
export const RESP_CLIENTS_MAX_DEFAULT = 10_000;

/** Default time a connection may stay silent with nothing in flight before it is closed. */
export const RESP_IDLE_TIMEOUT_MS_DEFAULT = 300_000;

/** Largest bulk an unauthenticated client may send when a password is set (Redis allows 16 KB before AUTH). */
export const RESP_UNAUTHENTICATED_BULK_MAX_BYTES = 16 * 1024;

/** Elements of one request array from an unauthenticated client (HELLO 3 AUTH user pass SETNAME name fits). */
export const RESP_UNAUTHENTICATED_ARRAY_MAX_ELEMENTS = 10;

/** Longest client name (CLIENT SETNAME, HELLO SETNAME). */
export const RESP_CLIENT_NAME_MAX_BYTES = 256;

/** After the server ends a connection, how long it waits for the client to close before destroying the socket. */
export const RESP_CLOSE_LINGER_MS = 1000;

/** How long a worker thread may take to close its actors' files at shutdown before it is terminated. */
export const SHUTDOWN_GRACE_MS = 10_000;

/** How long a thread crashed on purpose may take to release its native handles (thread pools, LMDB) before it exits anyway. */
export const CRASH_RELEASE_MS = 5_000;

/** After the release, how long a crashed thread waits for file operations already in flight to land before it exits. */
export const CRASH_SETTLE_MS = 20;

/** How long `terminateThread` waits for a thread to crash itself before it terminates it from outside (a stalled thread cannot). */
export const CRASH_EXIT_MS = 8_000;

/** Writes in one `put-batch` message to a coordinator (Cluster.putMany splits larger lists). */
export const PUT_BATCH_MAX = 256;

/** Writes the server coalesces from one event-loop turn into one `putMany` (a pipeline's SETs, MSET's keys, many clients' SETs). */
export const WRITE_BATCH_MAX = 1024;

/**
 * Largest phi a failure detector reports (its `stats` ask, hence status and
 * metrics); a larger phi, or an infinite one, is reported as this. By then
 * the peer has been past any sane threshold (8 to 16) for a long time, and
 * a finite cap keeps the value valid JSON and a plain gauge sample.
 */
export const PHI_REPORTED_MAX = 1_000_000;
