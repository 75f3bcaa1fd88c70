/**
 * Limits of active anti-entropy (issue 15): hash-tree size and the shape of
 * one exchange. Part of the named limits (src/core/limits.ts re-exports every
 * file here): every bound in ringkv is named in one place, units last in
 * each name.
 */

/**
 * Fewest leaf bits a hash tree may have (16 segments). Below this a tree
 * is so coarse that every exchange ships most keys of a range.
 */
export const AE_LEAF_BITS_MIN = 4;

/**
 * Most leaf bits a hash tree may have: 2^20 segments, 8 bytes each, about
 * 8.1 MiB per tree with its upper levels. Sized for a range of about one
 * million keys, one key per segment (Riak's default Tictac tree has the
 * same 1M segments, at 4 bytes each).
 */
export const AE_LEAF_BITS_MAX = 20;

/**
 * Binary tree levels one exchange message descends (the tree stores every
 * AE_LEVEL_BITS-th level, so a node has 2^AE_LEVEL_BITS children). Each
 * message carries 2^AE_LEVEL_BITS labels, 8 bytes each, for every subtree
 * still known to differ: 6 keeps the opening message at 512 bytes (an
 * exchange of equal replicas costs one round trip under 1 KiB) and reaches
 * the leaves of a 2^17-segment tree in three messages.
 */
export const AE_LEVEL_BITS = 6;

/** Labels (8 bytes each) one exchange message carries; a step with more is sent as several pages. */
export const AE_LABELS_PER_MESSAGE_MAX = 16_384;

/**
 * (key, digest) entries one exchange message carries. A page holds whole
 * segments, so it exceeds this only when one segment alone holds more
 * (a tree far too small for its range: rebuild it with more leaf bits).
 */
export const AE_ENTRIES_PER_MESSAGE_MAX = 4096;

/**
 * Entry pages a side sends before the peer has answered the oldest: flow
 * control, so the receiver's queue of pages waiting for its own storage
 * read is bounded.
 */
export const AE_PAGES_IN_FLIGHT_MAX = 4;

/**
 * Leaf bits of every replica group's tree unless configured: 2^10 segments,
 * 8.3 KiB per tree whatever the keys (a node of a 5-member, N = 3 cluster
 * keeps 6 trees: 50 KiB). Both sides of an exchange must use the same
 * size, so it is one cluster-wide setting, not derived from each side's
 * key count. A segment then holds keys/1024 keys of its group, each shipped
 * with a divergent key: raise it for groups of millions of keys.
 */
export const AE_LEAF_BITS_DEFAULT = 10;

/** How often a node's anti-entropy actor may start an exchange (default; the simulator and tests set their own). */
export const AE_EXCHANGE_INTERVAL_MS = 10_000;

/** Exchanges a node takes part in at once, started by it or by peers; a peer asking beyond it is told 'busy'. */
export const AE_EXCHANGES_CONCURRENT_MAX = 2;

/**
 * Bytes per second a node's exchanges may send and fetch, together: a new
 * exchange or fetch batch waits while the budget is spent, so repair never
 * takes more than this from clients' bandwidth and disk.
 */
export const AE_BYTES_PER_SECOND_MAX = 8 * 1024 * 1024;

/** An exchange with no message from its peer for this long is abandoned (the peer died or the link is cut). */
export const AE_EXCHANGE_IDLE_MS = 15_000;

/** Keys one fetch of an exchange asks the peer's replica for, in one get-batch. */
export const AE_FETCH_BATCH_KEYS = 256;

/**
 * Share of a node's time its exchanges may spend listing keys: an exchange
 * that reaches the leaves scans the node's store once (about 1.2 s per
 * million keys here, `bench:ae` exchange_scan), so after a scan of s ms the
 * node starts no exchange for s x (1 / share - 1) ms. A repair pass asked for
 * by an operator is not held back.
 */
export const AE_SCAN_TIME_SHARE_MAX = 0.05;

/**
 * Exchanges of one (replica group, peer) pair in a row whose trees differed
 * while neither side found a key to fetch, before the node rebuilds its
 * trees.
 * The trees then disagree with what the stores hold: a compaction purged a
 * confirmed tombstone with no write to tell the tree, or a bug. Rebuilding
 * ends the loop of exchanges that descend, scan and find nothing.
 */
export const AE_DRIFT_STRIKES_REBUILD = 3;

/** Keys an exchange holds in its segment index (the (key, digest) pairs of its group, read once per exchange). */
export const AE_EXCHANGE_KEYS_MAX = 4_000_000;

/**
 * How late a node's anti-entropy tick may fire before the node counts as
 * overloaded: its thread is busy with clients, so it neither starts nor
 * accepts an exchange until the ticks are on time again.
 */
export const AE_OVERLOAD_LAG_MS = 250;

/**
 * How often trees are rebuilt from storage to catch damage no read has met
 * (default; each node offsets its schedule at random, so rebuilds of a
 * cluster do not all start at once).
 */
export const AE_REBUILD_INTERVAL_MS = 6 * 60 * 60 * 1000;
