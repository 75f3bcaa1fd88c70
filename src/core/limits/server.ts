/**
 * Limits of the servers: HTTP and RESP.
 * Part of the named limits (src/core/limits.ts re-exports every file here):
 * every bound in ringkv is named in one place, units last in each name.
 */
import { VALUE_MAX_BYTES } from './runtime.js';

// HTTP server
// ---------------------------------------------------------------------------

/** Bytes of one HTTP request's line and headers together (node:http's `maxHeaderSize`); beyond it the answer is 431. */
export const HTTP_HEADER_MAX_BYTES = 16 * 1024;

/** Bytes of one HTTP request body: a body is a value, so the value limit; beyond it the answer is 413 and the rest is not buffered. */
export const HTTP_BODY_MAX_BYTES = VALUE_MAX_BYTES;

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

/** How long one status sample serves /health and /ready probes: a probe storm makes one status request per this period. */
export const PROBE_STATUS_CACHE_MS = 1_000;

/** How long a /health or /ready probe waits for the cluster's status before it answers 503. */
export const PROBE_STATUS_TIMEOUT_MS = 2_000;

/** Nodes a probe's reason names one by one; the rest are counted ("and 3 more"). */
export const PROBE_REASON_NODES_MAX = 8;

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

/** Commands one connection may queue between MULTI and EXEC (Redis has no bound); past it the transaction is aborted (EXECABORT). */
export const RESP_MULTI_QUEUED_MAX = 10_000;

/** Argument bytes one connection may queue between MULTI and EXEC; past it the transaction is aborted (EXECABORT). */
export const RESP_MULTI_QUEUED_MAX_BYTES = 64 * 1024 * 1024;

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

/** Reads in one `get-batch` message to a coordinator (Cluster.getMany splits larger lists); each read's answer (values) comes back in one reply. */
export const GET_BATCH_MAX = 256;

/** Reads the server coalesces from one event-loop turn into one `getMany` (a pipeline's GETs, MGET's keys, many clients' GETs). */
export const READ_BATCH_MAX = 1024;

/**
 * Largest phi a failure detector reports (its `stats` ask, hence status and
 * metrics); a larger phi, or an infinite one, is reported as this. By then
 * the peer has been past any sane threshold (8 to 16) for a long time, and
 * a finite cap keeps the value valid JSON and a plain gauge sample.
 */
export const PHI_REPORTED_MAX = 1_000_000;
