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
