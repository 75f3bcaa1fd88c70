/**
 * The command table of the RESP server and the dispatch of one request:
 * look the command up, check authentication and arity, run it, and turn any
 * error into an error reply (a request never crashes the server). Also the
 * COMMAND command, which describes the table to tools like redis-cli.
 *
 * Commands live by concept: `resp_connection_commands.ts` (PING, ECHO, AUTH,
 * HELLO, SELECT, CLIENT, QUIT), `resp_kv_commands.ts` (GET, SET, DEL, EXISTS,
 * MGET, MSET), `resp_ringkv_commands.ts` (KV.GET, KV.PUT, KV.DEL, KV.EXPLAIN,
 * KV.STATUS), `resp_info.ts` (INFO, DBSIZE), `resp_transaction.ts` (MULTI,
 * EXEC, DISCARD, WATCH, UNWATCH: what a transaction guarantees is there).
 * Inside MULTI a command that passes the checks is queued instead of run,
 * and one that fails them aborts the transaction (Redis's processCommand).
 *
 * Thread contract: `dispatch` runs a handler synchronously up to its first
 * `await`; callers dispatch a connection's requests in order.
 */
import { CommandError, errorReply, word, text, type CommandContext, type CommandSpec } from './resp_command_types.js';
import { CONNECTION_COMMANDS } from './resp_connection_commands.js';
import { INFO_COMMANDS } from './resp_info.js';
import { KV_COMMANDS } from './resp_kv_commands.js';
import { RINGKV_COMMANDS } from './resp_ringkv_commands.js';
import { refusedInTransaction, runsInsideMulti, TRANSACTION_COMMANDS } from './resp_transaction.js';
import { array, bulk, integer, map, NULL, simple, type Reply } from './resp_writer.js';

/** What dispatching one request gives: the name to report it under and its reply (now or later). */
export interface Dispatched {
  /**
   * Upper-case command name for the request observer; 'UNKNOWN' for unknown
   * commands (bounded label set); null for a command queued by MULTI, which
   * is reported when EXEC runs it (as Redis's command stats count it).
   */
  command: string | null;
  reply: Reply | Promise<Reply>;
}

const command: CommandSpec = {
  name: 'command',
  arity: -1,
  flags: ['loading', 'stale'],
  keys: [0, 0, 0],
  group: 'server',
  summary: 'Describe the commands: COMMAND, COMMAND COUNT, COMMAND INFO name..., COMMAND DOCS [name...], COMMAND LIST.',
  run(args) {
    const sub = word(args[1]);
    const named = (): CommandSpec[] => args.slice(2).flatMap((a) => TABLE.get(text(a).toLowerCase()) ?? []);
    switch (sub) {
      case '':
        return array(COMMANDS.map(commandInfo));
      case 'COUNT':
        return integer(COMMANDS.length);
      case 'LIST':
        return array(COMMANDS.map((c) => bulk(c.name)));
      case 'INFO':
        return array(args.slice(2).map((a) => {
          const spec = TABLE.get(text(a).toLowerCase());
          return spec === undefined ? NULL : commandInfo(spec);
        }));
      case 'DOCS':
        return map((args.length > 2 ? named() : COMMANDS).map((c) => [c.name, commandDocs(c)] as const));
      default:
        throw new CommandError(`ERR unknown subcommand '${text(args[1])}'. ringkv knows COMMAND, COMMAND COUNT, INFO, DOCS, LIST`);
    }
  },
};

/** Every command, in the order COMMAND lists them. */
export const COMMANDS: readonly CommandSpec[] = [...CONNECTION_COMMANDS, ...KV_COMMANDS, ...INFO_COMMANDS, ...TRANSACTION_COMMANDS, ...RINGKV_COMMANDS, command];

const TABLE = new Map(COMMANDS.map((c) => [c.name, c]));

/** Run one request (`args[0]` is the command name) for a connection; inside MULTI, queue it. */
export function dispatch(args: Buffer[], ctx: CommandContext): Dispatched {
  const name = text(args[0]).toLowerCase();
  const spec = TABLE.get(name);
  if (spec === undefined) {
    const start = args
      .slice(1, 4)
      .map((a) => `'${text(a).slice(0, 64)}'`)
      .join(' ');
    const refusal = `ERR unknown command '${text(args[0]).slice(0, 128)}', with args beginning with: ${start}`;
    return { command: 'UNKNOWN', reply: refusedInTransaction(ctx, name, refusal) };
  }
  const label = spec.name.toUpperCase();
  if (!ctx.session.authenticated && !spec.flags.includes('no-auth')) {
    return { command: label, reply: refusedInTransaction(ctx, name, 'NOAUTH Authentication required.') };
  }
  if ((spec.arity > 0 && args.length !== spec.arity) || (spec.arity < 0 && args.length < -spec.arity)) {
    return { command: label, reply: refusedInTransaction(ctx, name, `ERR wrong number of arguments for '${spec.name}' command`) };
  }
  const transaction = ctx.session.transaction;
  if (transaction !== null && !runsInsideMulti(name)) return { command: null, reply: transaction.queue(args) };
  try {
    const reply = spec.run(args, ctx);
    return { command: label, reply: reply instanceof Promise ? reply.catch((err: unknown) => errorReply(err, ctx.server.log)) : reply };
  } catch (err) {
    return { command: label, reply: errorReply(err, ctx.server.log) };
  }
}

/** Redis's ACL category of a group where the two names differ. */
const ACL_CATEGORY: Readonly<Record<string, string>> = { transactions: 'transaction' };

/** COMMAND's entry for one command (the Redis 7 layout). */
function commandInfo(spec: CommandSpec): Reply {
  const [first, last, step] = spec.keys;
  return array([
    bulk(spec.name),
    integer(spec.arity),
    array(spec.flags.map(simple)),
    integer(first),
    integer(last),
    integer(step),
    array([simple(`@${ACL_CATEGORY[spec.group] ?? spec.group}`)]),
    array([]),
    array([]),
    array([]),
  ]);
}

/** COMMAND DOCS's entry for one command. */
function commandDocs(spec: CommandSpec): Reply {
  return map([
    ['summary', bulk(spec.summary)],
    ['since', bulk(spec.group === 'ringkv' ? '0.1.0' : '1.0.0')],
    ['group', bulk(spec.group === 'ringkv' ? 'module' : spec.group)],
  ]);
}
