/**
 * Limits of membership changes (issue 16): how ranges stream to the nodes
 * that take them over, and how the change's driver waits for them. Part of
 * the named limits (src/core/limits.ts re-exports every file here).
 */

/** (key, digest) pairs one `range-digests` page carries at most. */
export const TRANSFER_PAGE_MAX_KEYS = 1024;

/**
 * Keys a `range-digests` page examines at most, matching or not: a range
 * that is a small share of the store still answers within one short turn.
 */
export const TRANSFER_PAGE_EXAMINE_MAX = 8192;

/** Keys fetched (or pushed) in one get-batch/merge-batch of a transfer. */
export const TRANSFER_FETCH_BATCH_MAX = 256;

/**
 * Bytes per second one node's transfers fetch and push, together (values
 * and key listings): a joining node fills at this rate while the cluster
 * serves. 16 MiB/s streams a million 100-byte values in about ten seconds.
 */
export const TRANSFER_BYTES_PER_SECOND = 16 * 1024 * 1024;

/** Transfers one node runs at once; the others wait their turn. */
export const TRANSFER_STREAMS_MAX = 2;

/**
 * Passes over a transfer's ranges before it gives up as unverified: the
 * first copies, each next one fixes what writes in flight left different,
 * and a pass that finds nothing different verifies it.
 */
export const TRANSFER_PASSES_MAX = 8;

/** Deadline of one ask to a source's replica (a listing page or a batch). */
export const TRANSFER_ASK_TIMEOUT_MS = 10_000;

/** Failed asks in a row (each source tried) before a transfer pauses as failed; the driver restarts it from its cursor. */
export const TRANSFER_ATTEMPTS_MAX = 6;

/** How often the change's driver asks the targets how their transfers go (and saves their cursors). */
export const TRANSFER_POLL_MS = 250;

/** How long the driver tries to get a ring update acknowledged by every running node before it reports who did not. */
export const RING_UPDATE_TIMEOUT_MS = 10_000;
