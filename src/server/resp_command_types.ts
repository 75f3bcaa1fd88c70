/**
 * What a RESP command handler is given and returns, shared by the command
 * files: the connection's session, the server's facts, the per-connection
 * request order, argument helpers, and the mapping of ringkv errors to
 * Redis-style error replies (`errorReply`: the table is there).
 *
 * Thread contract: handlers run on the server's event loop; a handler may
 * change its session only before its first `await`, so session changes apply
 * in request order even though a pipeline's commands run concurrently.
 */
import type { Cluster } from '../cluster/cluster_types.js';
import { CONSISTENCY_LEVELS, type ConsistencyLevel } from '../core/consistency.js';
import { RingkvError } from '../core/errors.js';
import type { LogSink } from '../runtime/logger.js';
import type { Transaction } from './resp_transaction.js';
import { error, type Protocol, type Reply } from './resp_writer.js';

/** One connection's state. */
export interface Session {
  /** Connection id (CLIENT ID, HELLO). */
  readonly id: number;
  /** Client name (CLIENT SETNAME), or null. */
  name: string | null;
  /** True when no password is set or AUTH/HELLO gave the right one. */
  authenticated: boolean;
  /** RESP version replies are encoded in. */
  protocol: Protocol;
  /** Set by QUIT: the connection closes after this reply and parses nothing more. */
  quitting: boolean;
  /** The transaction MULTI opened (commands are queued into it), or null. */
  transaction: Transaction | null;
}

/** What commands may know about the server around them. */
export interface ServerFacts {
  /** Port the server listens on. */
  readonly port: number;
  /** When the server started (ms since the epoch). */
  readonly startedAt_ms: number;
  /** Most clients at once. */
  readonly clientsMax: number;
  /** Idle timeout of connections, ms (0 = none). */
  readonly idleTimeoutMs: number;
  /** Largest bulk a client may send. */
  readonly bulkMaxBytes: number;
  /** Connected clients now. */
  connections(): number;
  /** True when a password is required. */
  readonly passwordSet: boolean;
  /** True when `password` is the server's (constant-time comparison). */
  checkPassword(password: Buffer): boolean;
  /** Where internal errors are logged with their detail (the client gets a generic reply). */
  readonly log: LogSink;
}

/** What a handler runs with. */
export interface CommandContext {
  readonly cluster: Cluster;
  readonly session: Session;
  readonly server: ServerFacts;
  /** Run a cluster read of `key` after this connection's earlier writes of it (reads of one key run together). */
  read<T>(key: Buffer, call: () => Promise<T>): Promise<T>;
  /** Run a cluster write of `key` after this connection's earlier requests on it. */
  write<T>(key: Buffer, call: () => Promise<T>): Promise<T>;
  /** Report that a plain read answered one of several siblings (counted in ringkv_get_hidden_siblings_total). */
  hidSiblings(): void;
  /** Run one command EXEC took from its queue, with `ctx`, reported to the request observer like any request. */
  runQueued(args: Buffer[], ctx: CommandContext): Reply | Promise<Reply>;
}

/** One command: its `COMMAND` metadata and its handler. */
export interface CommandSpec {
  /** Lower-case name, e.g. 'get', 'kv.get'. */
  readonly name: string;
  /** Redis arity: N means exactly N words (name included), -N means at least N. */
  readonly arity: number;
  /** Redis command flags ('readonly', 'write', 'fast', 'no-auth', ...). */
  readonly flags: readonly string[];
  /** Position of the first key, the last key (-1 = last argument) and the step, 0 0 0 without keys. */
  readonly keys: readonly [first: number, last: number, step: number];
  /** Redis command group ('string', 'generic', 'server', 'connection', 'transactions', 'ringkv'). */
  readonly group: string;
  /** One sentence for COMMAND DOCS. */
  readonly summary: string;
  /** Runs the command; may answer at once or later. Throw `CommandError` for a usage error. */
  run(args: Buffer[], ctx: CommandContext): Reply | Promise<Reply>;
}

/** A usage error with its full reply text (prefix included), e.g. "ERR syntax error". */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(readonly reply: string) {
    super(reply);
  }
}

/**
 * The error reply for anything a handler or the cluster threw. Prefixes
 * follow Redis's own, so a plain Redis client classifies them as it would
 * Redis's (redis.io "Common Redis errors"; ioredis in cluster mode retries
 * CLUSTERDOWN and TRYAGAIN after a delay, fred can retry on CLUSTERDOWN and
 * BUSY, and none of them retries -ERR):
 *
 *   ringkv error         prefix        why this one
 *   INVALID_REQUEST      -ERR          the request is wrong: fix it
 *   UNAVAILABLE          -CLUSTERDOWN  Redis: "the cluster can't serve the command"; too few replicas or the node is down; nothing applied, retry later
 *   TIMEOUT (reads)      -TRYAGAIN     Redis: temporary, "try again"; a read changes nothing
 *   OVERLOADED           -BUSY         Redis: the server is busy; back off and retry
 *   INDETERMINATE        -ERR          a write that "may or may not have been applied: read the key before retrying";
 *                                      -ERR on purpose: a client must not retry it blindly (a duplicate write)
 *   CORRUPTION           -ERR          "corruption in ...": the data is not trusted
 *   anything else        -ERR          "internal error ...": generic text with advice; the detail goes to `log`
 *
 * A write never answers -TRYAGAIN: the cluster client turns a write's
 * timeout into INDETERMINATE (see `cluster_client.ts`).
 */
export function errorReply(err: unknown, log?: LogSink): Reply {
  if (err instanceof CommandError) return error(err.reply);
  if (!(err instanceof RingkvError)) {
    log?.({ level: 'error', source: 'resp', msg: 'internal error', fields: { error: err instanceof Error ? (err.stack ?? err.message) : String(err) } });
    return error(INTERNAL_ERROR_REPLY);
  }
  const message = err.message;
  switch (err.code) {
    case 'UNAVAILABLE':
      return error(`CLUSTERDOWN ${message}`);
    case 'TIMEOUT':
      return error(`TRYAGAIN ${message}`);
    case 'OVERLOADED':
      return error(`BUSY ${message}`);
    case 'CORRUPTION':
    case 'INVALID_REQUEST':
    case 'INDETERMINATE':
    case 'INVALID_CONFIG':
    case 'DATA_DIR':
      return error(`ERR ${message}`);
  }
}

/** What a client is told of an error outside the taxonomy (a bug): no detail, what to do. */
export const INTERNAL_ERROR_REPLY = 'ERR internal error: the request may not have completed; if it was a write, read the key before retrying; the server log has the detail';

/** `-ERR wrong number of arguments for 'name' command`. */
export function wrongArity(name: string): CommandError {
  return new CommandError(`ERR wrong number of arguments for '${name}' command`);
}

/** `-ERR syntax error`, with what was expected. */
export function syntaxError(detail = ''): CommandError {
  return new CommandError(`ERR syntax error${detail ? `: ${detail}` : ''}`);
}

/** An argument as text (UTF-8). */
export function text(arg: Buffer | undefined): string {
  return arg === undefined ? '' : arg.toString('utf8');
}

/** An argument as an upper-case word, for options. */
export function word(arg: Buffer | undefined): string {
  return text(arg).toUpperCase();
}

/** An argument as a safe integer, or `-ERR value is not an integer or out of range`. */
export function integerArg(arg: Buffer | undefined): number {
  const value = text(arg);
  if (!/^-?[0-9]{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new CommandError('ERR value is not an integer or out of range');
  }
  return Number(value);
}

/** What `R n` / `W n` / `CONSISTENCY level` options asked for. */
export interface ConsistencyOption {
  count?: number;
  consistency?: ConsistencyLevel;
}

/**
 * Parse trailing `<countWord> n | CONSISTENCY level` options from `args[from..]`
 * (countWord is 'R' or 'W'); at most one of them.
 */
export function consistencyOptions(args: Buffer[], from: number, countWord: 'R' | 'W'): ConsistencyOption {
  const option: ConsistencyOption = {};
  for (let i = from; i < args.length; i += 2) {
    const name = word(args[i]);
    if (i + 1 >= args.length) throw syntaxError(`${name} needs a value`);
    if (option.count !== undefined || option.consistency !== undefined) {
      throw syntaxError(`give one of ${countWord} n or CONSISTENCY level`);
    }
    if (name === countWord) {
      const count = integerArg(args[i + 1]);
      if (count < 1) throw new CommandError(`ERR ${countWord} must be a replica count of 1 or more`);
      option.count = count;
    } else if (name === 'CONSISTENCY') {
      const level = text(args[i + 1]).toLowerCase();
      const known = CONSISTENCY_LEVELS.find((l) => l === level);
      if (known === undefined) {
        throw new CommandError(`ERR unknown consistency level '${level}'; use one of ${CONSISTENCY_LEVELS.join(', ')}`);
      }
      option.consistency = known;
    } else {
      throw syntaxError(`expected ${countWord} n or CONSISTENCY level, got '${name}'`);
    }
  }
  return option;
}
