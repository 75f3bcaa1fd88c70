/**
 * Limits of the links between processes (issue 16): the same actor
 * messages the rings carry within a process, over TCP. Part of the named
 * limits (src/core/limits.ts re-exports every file here).
 */

/**
 * Largest frame a peer may send (header excluded). A batch of envelopes
 * is one frame; a frame announcing more is refused and the peer
 * disconnected before its bytes are buffered. 16 MiB: four values of the
 * largest size (VALUE_MAX_BYTES) with room for their envelopes.
 */
export const PEER_FRAME_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Bytes of envelopes a link holds for its peer, encoded or waiting to be,
 * before `send` refuses more (returns false, as a full ring does): while
 * disconnected, or while the socket's buffer is full (TCP backpressure).
 */
export const PEER_QUEUE_MAX_BYTES = 64 * 1024 * 1024;

/** Envelopes one frame carries at most; a turn's sends beyond it go as several frames. */
export const PEER_BATCH_MAX_ENVELOPES = 4096;

/** First delay before redialing a lost peer; doubled per failed attempt up to PEER_RECONNECT_MAX_MS, with jitter. */
export const PEER_RECONNECT_MIN_MS = 50;
export const PEER_RECONNECT_MAX_MS = 5000;

/** A connection that has not proven the cluster secret within this long is closed. */
export const PEER_HANDSHAKE_TIMEOUT_MS = 5000;

/**
 * How long a process forming a new cluster waits for every seed to answer
 * (its roster: `cluster/cluster_formation.ts`) before it gives up with the
 * seeds that did not. A process with a cluster record never waits.
 */
export const PEER_FORMATION_WAIT_MS = 120_000;

/** While it waits, a line naming the seeds not heard from every this long. */
export const PEER_FORMATION_LOG_MS = 5000;

/** A cluster secret shorter than this is refused: it is what keeps other programs off the peer port. */
export const CLUSTER_SECRET_MIN_BYTES = 16;
