/**
 * Limits of the storage engine: commit log, memtables, SSTables, compaction, dot lease, tombstones.
 * Part of the named limits (src/core/limits.ts re-exports every file here):
 * every bound in ringkv is named in one place, units last in each name.
 */
import { CLOCK_MAX_BYTES, KEY_MAX_BYTES, VALUE_MAX_BYTES } from './runtime.js';

// ---------------------------------------------------------------------------
// Storage engine
// ---------------------------------------------------------------------------

/** A commit-log segment is closed and a new one started past this size. */
export const COMMITLOG_SEGMENT_BYTES = 32 * 1024 * 1024;

/**
 * Largest commit-log record payload. A record is one mutation
 * (storage/mutation.ts): a value of up to VALUE_MAX_BYTES, its key and clock,
 * and 17 bytes of length and flag fields (1 KiB is left for them).
 */
export const COMMITLOG_RECORD_MAX_BYTES = VALUE_MAX_BYTES + KEY_MAX_BYTES + CLOCK_MAX_BYTES + 1024;

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

/**
 * Arena memtable (storage/arena_memtable.ts): size of its first byte chunk.
 * Small, because the simulator flushes memtables of a few hundred bytes; each
 * later chunk doubles, up to MEMTABLE_ARENA_CHUNK_MAX_BYTES.
 */
export const MEMTABLE_ARENA_FIRST_CHUNK_BYTES = 4 * 1024;

/** Arena memtable: largest shared byte chunk (keys, version lists, values); chunks are never copied or moved. */
export const MEMTABLE_ARENA_CHUNK_MAX_BYTES = 1024 * 1024;

/**
 * Arena memtable: a value larger than this gets a chunk of its own, exactly
 * its size, instead of abandoning the rest of a shared chunk (a 4 MiB value
 * never wastes a shared chunk's tail).
 */
export const MEMTABLE_ARENA_LARGE_RECORD_BYTES = 64 * 1024;

/** Arena memtable: 32-bit words first reserved for skip-list nodes (the node array doubles, by copy, when full). */
export const MEMTABLE_ARENA_FIRST_NODE_WORDS = 256;

/** Slots of a memtable's hash index when it is created (a power of two; `storage/memtable_index.ts`). */
export const MEMTABLE_INDEX_FIRST_SLOTS = 256;

/** Fullest a memtable's hash index gets before it doubles: short probes, 16 to 32 bytes per key. */
export const MEMTABLE_INDEX_LOAD_MAX = 0.5;

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
// Storage failures (issue 13: a failed disk is reported and contained)
// ---------------------------------------------------------------------------

/**
 * A replica whose storage failed (cannot open, or a commit-log, flush or
 * manifest write failed) tries to open it again this often; meanwhile its
 * node is treated as down by every coordinator.
 */
export const STORAGE_REOPEN_INTERVAL_MS = 10_000;

/** SSTable files whose checksum failures a replica counts one by one (more are counted under one label). */
export const CHECKSUM_FAILURE_FILES_MAX = 64;

/**
 * Live-key counts (DBSIZE) are recounted by a background scan at most this
 * often while writes come in; with no write since the last count, the count
 * is reused as is.
 */
export const LIVE_KEYS_RECOUNT_MIN_INTERVAL_MS = 1_000;

/** Entries one step of the live-key scan reads before it lets the replica's other messages run. */
export const LIVE_KEYS_SCAN_STEP_ENTRIES = 4096;

/** How long a stats ask waits for a live-key recount before answering with the previous count. */
export const LIVE_KEYS_WAIT_MS = 500;
