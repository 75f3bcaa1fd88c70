/**
 * Connection commands: PING, ECHO, AUTH, HELLO, SELECT, CLIENT, QUIT. None
 * touches the cluster; each answers at once, so its session change applies
 * before the next request of the pipeline is dispatched.
 */
import { RESP_CLIENT_NAME_MAX_BYTES } from '../core/limits.js';
import { CommandError, integerArg, text, word, wrongArity, type CommandContext, type CommandSpec } from './resp_command_types.js';
import { REDIS_COMPATIBLE_VERSION, RINGKV_VERSION } from './resp_info.js';
import { array, bulk, integer, map, NULL, OK, simple } from './resp_writer.js';

const ping: CommandSpec = {
  name: 'ping',
  arity: -1,
  flags: ['fast', 'no-auth'],
  keys: [0, 0, 0],
  group: 'connection',
  summary: 'PONG, or the message given.',
  run(args) {
    if (args.length > 2) throw wrongArity('ping');
    return args.length === 2 ? bulk(args[1]!) : simple('PONG');
  },
};

const echo: CommandSpec = {
  name: 'echo',
  arity: 2,
  flags: ['fast'],
  keys: [0, 0, 0],
  group: 'connection',
  summary: 'The message given.',
  run: (args) => bulk(args[1]!),
};

const auth: CommandSpec = {
  name: 'auth',
  arity: -2,
  flags: ['fast', 'no-auth'],
  keys: [0, 0, 0],
  group: 'connection',
  summary: 'Authenticate with the server password (user "default").',
  run(args, ctx) {
    if (args.length > 3) throw new CommandError('ERR syntax error');
    authenticate(ctx, args.length === 3 ? text(args[1]) : 'default', args[args.length - 1]!);
    return OK;
  },
};

const hello: CommandSpec = {
  name: 'hello',
  arity: -1,
  flags: ['fast', 'no-auth'],
  keys: [0, 0, 0],
  group: 'connection',
  summary: 'Pick RESP2 or RESP3, optionally authenticate and name the connection; answers server facts.',
  run(args, ctx) {
    let protocol = ctx.session.protocol;
    if (args.length >= 2) {
      const version = integerArg(args[1]);
      if (version !== 2 && version !== 3) throw new CommandError('NOPROTO unsupported protocol version; use 2 or 3');
      protocol = version;
    }
    let name: string | null = null;
    for (let i = 2; i < args.length; ) {
      const option = word(args[i]);
      if (option === 'AUTH' && i + 2 < args.length) {
        authenticate(ctx, text(args[i + 1]), args[i + 2]!);
        i += 3;
      } else if (option === 'SETNAME' && i + 1 < args.length) {
        name = clientName(args[i + 1]!);
        i += 2;
      } else {
        throw new CommandError(`ERR syntax error in HELLO option '${option}'`);
      }
    }
    if (!ctx.session.authenticated) {
      throw new CommandError('NOAUTH HELLO must be called with the client already authenticated, or use HELLO <proto> AUTH <user> <password>');
    }
    ctx.session.protocol = protocol;
    if (name !== null) ctx.session.name = name;
    return map([
      ['server', bulk('ringkv')],
      ['version', bulk(REDIS_COMPATIBLE_VERSION)],
      ['ringkv_version', bulk(RINGKV_VERSION)],
      ['proto', integer(protocol)],
      ['id', integer(ctx.session.id)],
      ['mode', bulk('standalone')],
      ['role', bulk('master')],
      ['modules', array([])],
    ]);
  },
};

const select: CommandSpec = {
  name: 'select',
  arity: 2,
  flags: ['fast'],
  keys: [0, 0, 0],
  group: 'connection',
  summary: 'Select database 0, the only one ringkv has.',
  run(args) {
    if (integerArg(args[1]) !== 0) throw new CommandError('ERR ringkv has only database 0; SELECT 0 or leave SELECT out');
    return OK;
  },
};

const client: CommandSpec = {
  name: 'client',
  arity: -2,
  flags: [],
  keys: [0, 0, 0],
  group: 'connection',
  summary: 'CLIENT SETNAME name | GETNAME | ID | SETINFO attr value.',
  run(args, ctx) {
    const sub = word(args[1]);
    const needs = (count: number): void => {
      if (args.length !== count) throw new CommandError(`ERR wrong number of arguments for 'client|${sub.toLowerCase()}' command`);
    };
    switch (sub) {
      case 'SETNAME':
        needs(3);
        ctx.session.name = clientName(args[2]!);
        return OK;
      case 'GETNAME':
        needs(2);
        return ctx.session.name === null ? NULL : bulk(ctx.session.name);
      case 'ID':
        needs(2);
        return integer(ctx.session.id);
      case 'SETINFO':
        needs(4); // library name and version: accepted, not kept
        return OK;
      default:
        throw new CommandError(`ERR unknown subcommand '${text(args[1])}'. ringkv knows CLIENT SETNAME, GETNAME, ID, SETINFO`);
    }
  },
};

const quit: CommandSpec = {
  name: 'quit',
  arity: -1,
  flags: ['fast', 'no-auth'],
  keys: [0, 0, 0],
  group: 'connection',
  summary: 'Close the connection after replying OK.',
  run(_args, ctx) {
    ctx.session.quitting = true;
    return OK;
  },
};

/** The commands of this file. */
export const CONNECTION_COMMANDS: readonly CommandSpec[] = [ping, echo, auth, hello, select, client, quit];

/** Check a user and password; marks the session authenticated or throws WRONGPASS. */
function authenticate(ctx: CommandContext, user: string, password: Buffer): void {
  if (!ctx.server.passwordSet) {
    throw new CommandError('ERR AUTH called without any password configured; start ringkv with --password to require one');
  }
  if (user !== 'default' || !ctx.server.checkPassword(password)) {
    throw new CommandError('WRONGPASS invalid username-password pair or user is disabled.');
  }
  ctx.session.authenticated = true;
}

/** A valid client name: no spaces or control characters, bounded length. */
function clientName(arg: Buffer): string {
  if (arg.length > RESP_CLIENT_NAME_MAX_BYTES) {
    throw new CommandError(`ERR client name over ${RESP_CLIENT_NAME_MAX_BYTES} bytes`);
  }
  const name = text(arg);
  if (!/^[\x21-\x7e]*$/.test(name)) throw new CommandError('ERR Client names cannot contain spaces, newlines or special characters.');
  return name;
}

