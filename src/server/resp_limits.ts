/**
 * The bounds one RESP server enforces, with defaults from `core/limits.ts`
 * and checks on what a caller overrides.
 */
import { assert } from '../core/assert.js';
import { InvalidRequestError } from '../core/errors.js';
import {
  RESP_ARRAY_MAX_ELEMENTS,
  RESP_BULK_MAX_BYTES_DEFAULT,
  RESP_BULK_MAX_BYTES_HARD,
  RESP_CLIENTS_MAX_DEFAULT,
  RESP_CLUSTER_CALLS_PER_CONNECTION_MAX,
  RESP_IDLE_TIMEOUT_MS_DEFAULT,
  RESP_INLINE_MAX_BYTES,
  RESP_PIPELINE_MAX_COMMANDS,
  RESP_QUERY_BUFFER_MAX_BYTES_DEFAULT,
  RESP_REPLY_PENDING_MAX_BYTES,
  RESP_UNAUTHENTICATED_ARRAY_MAX_ELEMENTS,
  RESP_UNAUTHENTICATED_BULK_MAX_BYTES,
  VALUE_MAX_BYTES,
} from '../core/limits.js';

// A SET of the largest value must parse whole (with its key and command), and a larger one too, so it
// is refused with an error naming VALUE_MAX_BYTES rather than a protocol error that drops the connection.
assert(RESP_BULK_MAX_BYTES_DEFAULT > VALUE_MAX_BYTES, 'the default bulk limit admits a value over VALUE_MAX_BYTES, to refuse it by name');

/** Every bound of a RESP server. */
export interface RespLimits {
  /**
   * Largest bulk string the parser reads, at most RESP_BULK_MAX_BYTES_HARD.
   * Above VALUE_MAX_BYTES by default: a value over the value limit is read and
   * refused by name. CONFIG GET proto-max-bulk-len reports the smaller of the two.
   */
  bulkMaxBytes: number;
  /** Elements of one request array. */
  arrayMaxElements: number;
  /** Longest inline command line. */
  inlineMaxBytes: number;
  /** Bytes a connection may hold of unparsed input plus an unfinished request; above bulkMaxBytes. */
  queryBufferMaxBytes: number;
  /** Connected clients at once; more are refused with an error. */
  clientsMax: number;
  /** A silent connection with nothing in flight is closed after this long (0 = never). */
  idleTimeoutMs: number;
  /** Requests one connection may have waiting for replies before its socket stops being read. */
  pipelineMaxCommands: number;
  /** Reply bytes waiting in a socket before it stops being read. */
  replyPendingMaxBytes: number;
  /** Cluster requests one connection may have running. */
  clusterCallsPerConnectionMax: number;
  /** Largest bulk before authentication (when a password is set). */
  unauthenticatedBulkMaxBytes: number;
  /** Elements of a request array before authentication. */
  unauthenticatedArrayMaxElements: number;
}

/** The defaults. */
export const DEFAULT_RESP_LIMITS: Readonly<RespLimits> = {
  bulkMaxBytes: RESP_BULK_MAX_BYTES_DEFAULT,
  arrayMaxElements: RESP_ARRAY_MAX_ELEMENTS,
  inlineMaxBytes: RESP_INLINE_MAX_BYTES,
  queryBufferMaxBytes: RESP_QUERY_BUFFER_MAX_BYTES_DEFAULT,
  clientsMax: RESP_CLIENTS_MAX_DEFAULT,
  idleTimeoutMs: RESP_IDLE_TIMEOUT_MS_DEFAULT,
  pipelineMaxCommands: RESP_PIPELINE_MAX_COMMANDS,
  replyPendingMaxBytes: RESP_REPLY_PENDING_MAX_BYTES,
  clusterCallsPerConnectionMax: RESP_CLUSTER_CALLS_PER_CONNECTION_MAX,
  unauthenticatedBulkMaxBytes: RESP_UNAUTHENTICATED_BULK_MAX_BYTES,
  unauthenticatedArrayMaxElements: RESP_UNAUTHENTICATED_ARRAY_MAX_ELEMENTS,
};

/** Defaults with `overrides` applied; throws InvalidRequestError for an inconsistent or out-of-range set. */
export function resolveRespLimits(overrides: Partial<RespLimits> = {}): RespLimits {
  const limits: RespLimits = { ...DEFAULT_RESP_LIMITS, ...overrides };
  // Lowered authenticated bounds lower the unauthenticated defaults with them.
  if (overrides.unauthenticatedBulkMaxBytes === undefined) {
    limits.unauthenticatedBulkMaxBytes = Math.min(limits.unauthenticatedBulkMaxBytes, limits.bulkMaxBytes);
  }
  if (overrides.unauthenticatedArrayMaxElements === undefined) {
    limits.unauthenticatedArrayMaxElements = Math.min(limits.unauthenticatedArrayMaxElements, limits.arrayMaxElements);
  }
  for (const [name, value] of Object.entries(limits)) {
    const zeroAllowed = name === 'idleTimeoutMs';
    if (!Number.isSafeInteger(value) || value < (zeroAllowed ? 0 : 1)) {
      throw new InvalidRequestError(`RESP limit ${name} must be a positive integer, got ${value}`);
    }
  }
  if (limits.bulkMaxBytes > RESP_BULK_MAX_BYTES_HARD) {
    throw new InvalidRequestError(`bulkMaxBytes ${limits.bulkMaxBytes} is over the hard maximum of ${RESP_BULK_MAX_BYTES_HARD} bytes`);
  }
  if (limits.queryBufferMaxBytes <= limits.bulkMaxBytes || limits.queryBufferMaxBytes <= limits.inlineMaxBytes) {
    throw new InvalidRequestError('queryBufferMaxBytes must exceed bulkMaxBytes and inlineMaxBytes so one whole request fits');
  }
  if (limits.unauthenticatedBulkMaxBytes > limits.bulkMaxBytes || limits.unauthenticatedArrayMaxElements > limits.arrayMaxElements) {
    throw new InvalidRequestError('the unauthenticated bounds must not exceed the authenticated ones');
  }
  return limits;
}
