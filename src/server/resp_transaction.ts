/**
 * MULTI/EXEC/DISCARD over a leaderless cluster: what a Redis client's
 * transaction becomes in ringkv, and why WATCH is refused.
 *
 * What is guaranteed (and what is not, unlike Redis):
 *   - After MULTI, each command is checked (unknown command, wrong number of
 *     arguments, not authenticated, the queue bound) and answered QUEUED; it
 *     is not run. A command that fails the check gets its error at once and
 *     marks the transaction aborted: EXEC then answers
 *     "EXECABORT Transaction discarded because of previous errors." and
 *     applies nothing (Redis 2.6.5 and later).
 *   - Nothing queued is applied before EXEC, nor ever after DISCARD, an
 *     EXECABORT, QUIT, or a disconnect before EXEC.
 *   - EXEC runs the queued commands in order in one event-loop turn, as one
 *     batch: their blind writes (SET, MSET, KV.PUT, KV.DEL) reach the cluster
 *     together as one `putMany` (one message per coordinator); commands that
 *     read first (GET, DEL, SET NX/XX/GET) read together and write in a
 *     following batch. Each command sees this connection's earlier commands
 *     on the same key (per-key request order, as in a pipeline).
 *   - EXEC answers one array with each command's own reply in its slot; a
 *     command that fails (at run time: a syntax error of its options, an
 *     unavailable cluster, a timeout) has its error in its slot and the
 *     others still run, as in Redis.
 *   - Not isolated: other clients' commands may interleave with the
 *     transaction's, on other servers and on this one. Not atomic: there is
 *     no rollback; when some writes fail, the others stay applied (each
 *     slot says which). Redis runs a transaction alone and all of it; a
 *     leaderless store has no single copy to lock.
 *
 * WATCH is refused: Redis's WATCH aborts EXEC when a watched key changed,
 * which needs one authoritative copy that sees every change; a ringkv key
 * lives on N replicas that accept writes independently. Check-and-set is
 * KV.GET and then KV.PUT with the read's context (a concurrent writer
 * becomes a sibling, never a lost write). UNWATCH answers OK: nothing is
 * ever watched, so forgetting the watched keys is already done (clients
 * such as go-redis send it when they close a transaction).
 *
 * Inside MULTI, MULTI, EXEC, DISCARD, WATCH and QUIT run at once, as in
 * Redis; every other command (AUTH, HELLO and UNWATCH included) is queued.
 *
 * Thread contract: the server's event loop; a transaction belongs to one
 * connection's session.
 */
import { RESP_MULTI_QUEUED_MAX, RESP_MULTI_QUEUED_MAX_BYTES } from '../core/limits.js';
import { CommandError, type CommandContext, type CommandSpec } from './resp_command_types.js';
import { batchedRequests } from './turn_batcher.js';
import { array, error, OK, simple, type Reply } from './resp_writer.js';

/** The reply of EXEC after a queueing error (Redis's exact text). */
export const EXECABORT_REPLY = 'EXECABORT Transaction discarded because of previous errors.';

/** Commands that run at once inside MULTI instead of being queued (Redis's processCommand list, less RESET). */
const RUN_INSIDE_MULTI: ReadonlySet<string> = new Set(['multi', 'exec', 'discard', 'watch', 'quit']);

/** The commands queued since MULTI on one connection. */
export class Transaction {
  /** Commands to run at EXEC, in order; emptied once the transaction is aborted (they will never run). */
  readonly queued: Buffer[][] = [];
  /** Commands answered QUEUED (kept counting after an abort). */
  private count = 0;
  /** Argument bytes held in `queued`. */
  private bytes = 0;
  /** True once a command went past a bound: every later one is refused too. */
  private overflowed = false;
  /** True once a command failed its check: EXEC will answer EXECABORT. */
  aborted = false;

  /** `commandsMax` and `bytesMax` bound the queue (tests lower them). */
  constructor(
    private readonly commandsMax = RESP_MULTI_QUEUED_MAX,
    private readonly bytesMax = RESP_MULTI_QUEUED_MAX_BYTES,
  ) {}

  /**
   * Queue one checked command; answers QUEUED, or the bound's error (and
   * aborts the transaction) when the queue is full.
   */
  queue(args: Buffer[]): Reply {
    const size = args.reduce((sum, arg) => sum + arg.length, 0);
    if (this.overflowed || this.count + 1 > this.commandsMax || this.bytes + size > this.bytesMax) {
      this.overflowed = true;
      this.abort();
      return error(
        `ERR transaction too large: at most ${this.commandsMax} commands and ${this.bytesMax} bytes of arguments may be queued between MULTI and EXEC; ` +
          'this transaction is aborted (EXEC answers EXECABORT and applies nothing): split it into smaller ones',
      );
    }
    this.count += 1;
    if (!this.aborted) {
      this.queued.push(args);
      this.bytes += size;
    }
    return QUEUED;
  }

  /** Mark the transaction aborted and let go of what it holds. */
  abort(): void {
    this.aborted = true;
    this.queued.length = 0;
    this.bytes = 0;
  }
}

/** Whether `name` (lower case) runs at once inside MULTI rather than being queued. */
export function runsInsideMulti(name: string): boolean {
  return RUN_INSIDE_MULTI.has(name);
}

/**
 * The reply for a request refused before it ran (unknown command, arity,
 * NOAUTH; `refusal` is the error text): while a transaction is open it is
 * aborted, and a refused EXEC ends it with EXECABORT and the reason, as
 * Redis does.
 */
export function refusedInTransaction(ctx: CommandContext, name: string, refusal: string): Reply {
  const transaction = ctx.session.transaction;
  if (transaction !== null && name === 'exec') {
    ctx.session.transaction = null;
    return error(`EXECABORT Transaction discarded because of: ${refusal}`);
  }
  transaction?.abort();
  return error(refusal);
}

const QUEUED: Reply = simple('QUEUED');

/** Redis 7's flags of the transaction commands (COMMAND INFO). */
const FLAGS = ['noscript', 'loading', 'stale', 'fast'];

const multi: CommandSpec = {
  name: 'multi',
  arity: 1,
  flags: FLAGS,
  keys: [0, 0, 0],
  group: 'transactions',
  summary: 'Start a transaction: the following commands are checked and queued, not run, until EXEC or DISCARD (not isolated or atomic: see EXEC).',
  run(_args, ctx) {
    // Redis answers this without aborting the open transaction.
    if (ctx.session.transaction !== null) throw new CommandError('ERR MULTI calls can not be nested');
    ctx.session.transaction = new Transaction();
    return OK;
  },
};

const exec: CommandSpec = {
  name: 'exec',
  arity: 1,
  flags: ['noscript', 'loading', 'stale', 'skip_slowlog'],
  keys: [0, 0, 0],
  group: 'transactions',
  summary:
    'Run the commands queued since MULTI in order as one batch; answers each one\'s reply (or error) in one array. ' +
    'Nothing queued is applied before EXEC, nor after DISCARD or EXECABORT; not isolated (other clients may interleave) and not atomic (no rollback: a failed command leaves the others applied).',
  run(_args, ctx) {
    const transaction = ctx.session.transaction;
    if (transaction === null) throw new CommandError('ERR EXEC without MULTI');
    ctx.session.transaction = null;
    if (transaction.aborted) throw new CommandError(EXECABORT_REPLY);
    return runQueued(transaction.queued, ctx);
  },
};

const discard: CommandSpec = {
  name: 'discard',
  arity: 1,
  flags: FLAGS,
  keys: [0, 0, 0],
  group: 'transactions',
  summary: 'Drop the commands queued since MULTI; none of them is applied.',
  run(_args, ctx) {
    if (ctx.session.transaction === null) throw new CommandError('ERR DISCARD without MULTI');
    ctx.session.transaction = null;
    return OK;
  },
};

const watch: CommandSpec = {
  name: 'watch',
  arity: -2,
  flags: FLAGS,
  keys: [1, -1, 1],
  group: 'transactions',
  summary: 'Refused: ringkv has no single copy of a key to watch; for check-and-set use KV.GET, then KV.PUT with its context.',
  run(_args, ctx) {
    // Redis's own answer inside MULTI (it does not abort the transaction).
    if (ctx.session.transaction !== null) throw new CommandError('ERR WATCH inside MULTI is not allowed');
    throw new CommandError(WATCH_REFUSED);
  },
};

const unwatch: CommandSpec = {
  name: 'unwatch',
  arity: 1,
  flags: FLAGS,
  keys: [0, 0, 0],
  group: 'transactions',
  summary: 'OK: WATCH is refused, so no key is ever watched and there is nothing to forget.',
  run: () => OK,
};

/** WATCH's refusal. */
export const WATCH_REFUSED =
  'ERR WATCH is not supported by ringkv: a key has no single copy whose changes could be watched (it lives on N replicas that accept writes independently); ' +
  'for check-and-set use KV.GET, then KV.PUT with the context it answered';

/** The commands of this file. */
export const TRANSACTION_COMMANDS: readonly CommandSpec[] = [multi, exec, discard, watch, unwatch];

/**
 * Run `queued` in order, in this turn, with their single writes gathered
 * into one `putMany` (a batcher of this EXEC's own, so they go together even
 * on a server whose cluster does not batch); one array of their replies.
 */
function runQueued(queued: readonly Buffer[][], ctx: CommandContext): Reply | Promise<Reply> {
  if (queued.length === 0) return array([]);
  const batch: CommandContext = { ...ctx, cluster: batchedRequests(ctx.cluster) };
  const replies = queued.map((args) => ctx.runQueued(args, batch));
  return Promise.all(replies).then(array);
}
