/**
 * The one error taxonomy of ringkv (after Pebble's `internal/base/error.go`).
 * Every error a user or an actor can act on is one of these; each message says
 * what was wrong and what to do. "Not found" is a result, never an error.
 *
 * Errors cross threads as plain records (`toErrorRecord` / `fromErrorRecord`)
 * so that a reply carrying an error is rebuilt as the same class on the other
 * side.
 */

/** Base class: `code` is stable and machine-readable, `message` is for humans. */
export abstract class RingkvError extends Error {
  abstract readonly code: ErrorCode;
}

export type ErrorCode = 'CORRUPTION' | 'UNAVAILABLE' | 'TIMEOUT' | 'OVERLOADED' | 'INVALID_REQUEST' | 'INDETERMINATE' | 'INVALID_CONFIG' | 'DATA_DIR';

/** Bytes failed a checksum or a structural check. Do not trust or replicate them. */
export class CorruptionError extends RingkvError {
  override name = 'CorruptionError';
  readonly code = 'CORRUPTION' as const;
  constructor(
    /** Where the bad bytes are: a file path, a ring name, a peer. */
    readonly location: string,
    /** Byte offset of the bad record within `location`, or -1 if unknown. */
    readonly offset: number,
    detail: string,
  ) {
    super(
      `corruption in ${location}${offset >= 0 ? ` at offset ${offset}` : ''}: ${detail}; ` +
        'those bytes are not trusted and never replicated; the other replicas still hold the data (the node log says what this node did about it)',
    );
  }
}

/**
 * Too few replicas answered, or the node asked is down. Says how many
 * answered of how many were needed, and what to do (`advice`; by default:
 * retry later or lower R/W). The request was not done: retrying is safe.
 */
export class UnavailableError extends RingkvError {
  override name = 'UnavailableError';
  readonly code = 'UNAVAILABLE' as const;
  constructor(
    readonly answered: number,
    readonly needed: number,
    detail = '',
    advice = 'retry later, or lower the consistency level (R/W) for this request',
  ) {
    super(`only ${answered} of the ${needed} required replicas answered${detail ? ` (${detail})` : ''}; ${advice}`);
  }
}

/**
 * The error an ask gets when the thread or actor it went to crashed or
 * stopped before handling it (it sat in the mailbox, or never left this
 * thread). Nothing was done, so it is a retryable `UnavailableError`.
 */
export function notHandledError(what: string, why: string): UnavailableError {
  return new UnavailableError(0, 1, `${what} was not handled: ${why}`, 'nothing was applied: retry after a short pause, when the node is back or seen down');
}

/** A request or `ask` got no answer within its deadline. */
export class TimeoutError extends RingkvError {
  override name = 'TimeoutError';
  readonly code = 'TIMEOUT' as const;
  constructor(
    /** What timed out, e.g. "ask to node-2/replica (type=get)". */
    readonly what: string,
    readonly timeout_ms: number,
  ) {
    super(`${what} got no answer within ${timeout_ms} ms; the target may be down or overloaded: retry with backoff`);
  }
}

/** A bounded queue, ring or store is full: back off and retry. */
export class OverloadedError extends RingkvError {
  override name = 'OverloadedError';
  readonly code = 'OVERLOADED' as const;
  constructor(
    /** Which bound was hit, e.g. "mailbox of node-1/replica (1024 messages)". */
    readonly resource: string,
  ) {
    super(`${resource} is full; back off and retry, or raise the limit if the load is expected`);
  }
}

/**
 * A write whose fate is unknown: it was sent (or stored on some replicas)
 * but its outcome never came back in time, or its coordinator crashed
 * mid-write. It may or may not have been applied, now or later (Jepsen's
 * `:info`). Retrying it blindly can write it twice (a duplicate sibling):
 * read the key first.
 */
export class IndeterminateError extends RingkvError {
  override name = 'IndeterminateError';
  readonly code = 'INDETERMINATE' as const;
  constructor(
    /** What was attempted, e.g. "write of version n1#epoch5:3". */
    readonly what: string,
    /** Why its outcome is unknown (the deadline, the crash), for the message. */
    readonly reason = '',
  ) {
    super(`${what} may or may not have been applied${reason ? ` (${reason})` : ''}: read the key before retrying`);
  }
}

/** The request itself is wrong (too large, malformed): fix it, do not retry. */
export class InvalidRequestError extends RingkvError {
  override name = 'InvalidRequestError';
  readonly code = 'INVALID_REQUEST' as const;
  constructor(detail: string) {
    super(`invalid request: ${detail}`);
  }
}

/**
 * The options a cluster or server was asked to start with are wrong, or
 * disagree with what its data directory was created with. Every problem is
 * listed (`problems`, one sentence each saying what is wrong and what to
 * do), and nothing was started: fix them and start again.
 */
export class ConfigError extends RingkvError {
  override name = 'ConfigError';
  readonly code = 'INVALID_CONFIG' as const;
  constructor(
    /** One message per problem. */
    readonly problems: readonly string[],
    /** What kind of problems, e.g. "invalid configuration". */
    summary = 'invalid configuration',
    /** What to do about all of them, after the list. */
    advice = 'fix each and start again',
  ) {
    super(`${summary} (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was started:\n${problems.map((p) => `  - ${p}`).join('\n')}\n${advice}`);
  }
}

/**
 * A data directory cannot be used: another process holds it (`in-use`,
 * `holderPid` says which), its lock file is unreadable, or its cluster
 * record is damaged. Nothing was started; the message says what to do.
 */
export class DataDirError extends RingkvError {
  override name = 'DataDirError';
  readonly code = 'DATA_DIR' as const;
  constructor(
    /** The directory. */
    readonly dir: string,
    readonly reason: 'in-use' | 'unreadable-lock' | 'corrupt-record',
    detail: string,
    /** The process holding it, for `in-use`; else null. */
    readonly holderPid: number | null = null,
  ) {
    super(`data directory ${dir}: ${detail}`);
  }
}

/** True when `err` is a `CorruptionError` (Pebble's `IsCorruptionError`). */
export function isCorruptionError(err: unknown): err is CorruptionError {
  return err instanceof CorruptionError;
}

/** A serializable form of an error, for replies that cross threads. */
export interface ErrorRecord {
  name: string;
  code: string;
  message: string;
  /** Constructor fields needed to rebuild the class. */
  fields?: Record<string, string | number>;
}

/** One item's result in a batch reply (writes of a put-batch, mints, merges), in request order. */
export type Outcome<T> = { ok: T } | { error: ErrorRecord };

/** Turn any thrown value into an `ErrorRecord`. */
export function toErrorRecord(err: unknown): ErrorRecord {
  if (err instanceof CorruptionError) {
    return { name: err.name, code: err.code, message: err.message, fields: { location: err.location, offset: err.offset } };
  }
  if (err instanceof UnavailableError) {
    return { name: err.name, code: err.code, message: err.message, fields: { answered: err.answered, needed: err.needed } };
  }
  if (err instanceof TimeoutError) {
    return { name: err.name, code: err.code, message: err.message, fields: { what: err.what, timeout_ms: err.timeout_ms } };
  }
  if (err instanceof OverloadedError) {
    return { name: err.name, code: err.code, message: err.message, fields: { resource: err.resource } };
  }
  if (err instanceof IndeterminateError) {
    return { name: err.name, code: err.code, message: err.message, fields: { what: err.what, reason: err.reason } };
  }
  if (err instanceof RingkvError) return { name: err.name, code: err.code, message: err.message };
  if (err instanceof Error) return { name: err.name, code: 'INTERNAL', message: err.message };
  return { name: 'Error', code: 'INTERNAL', message: String(err) };
}

/** Rebuild an error from its record; unknown kinds come back as plain `Error`. */
export function fromErrorRecord(rec: ErrorRecord): Error {
  const f = rec.fields ?? {};
  switch (rec.code) {
    case 'CORRUPTION':
      return Object.assign(new CorruptionError(String(f['location']), Number(f['offset']), ''), { message: rec.message });
    case 'UNAVAILABLE':
      return Object.assign(new UnavailableError(Number(f['answered']), Number(f['needed'])), { message: rec.message });
    case 'TIMEOUT':
      return Object.assign(new TimeoutError(String(f['what']), Number(f['timeout_ms'])), { message: rec.message });
    case 'OVERLOADED':
      return Object.assign(new OverloadedError(String(f['resource'])), { message: rec.message });
    case 'INDETERMINATE':
      return Object.assign(new IndeterminateError(String(f['what']), String(f['reason'] ?? '')), { message: rec.message });
    case 'INVALID_REQUEST':
      return Object.assign(new InvalidRequestError(''), { message: rec.message });
    default: {
      const e = new Error(rec.message);
      e.name = rec.name;
      return e;
    }
  }
}
