/**
 * Redis's string and key commands over a Dynamo cluster: GET, SET, DEL,
 * EXISTS, MGET, MSET.
 *
 * A key may hold siblings (concurrent writes). GET and MGET answer one of
 * them, chosen deterministically (`pickSibling`); KV.GET shows all of them.
 * SET and MSET are overwrites (`WriteOptions.overwrite`): in one round trip
 * the new value supersedes every version the coordinating owner of the key
 * holds, as in Redis; a write made concurrently by another client that the
 * owner has not seen yet stays beside it as a sibling rather than being
 * lost. SET with NX, XX or GET, and DEL, read the key first (they need the
 * old value) and write with the context of that read, superseding exactly
 * what was read; NX and XX are honest but not atomic against other clients
 * (a racing writer becomes a sibling, never a lost write). MSET is not
 * atomic either: each key is its own write, and on a failure some keys may
 * be written. The server batches the writes of one event-loop turn (a
 * pipeline's, MSET's) into one message per coordinator (`write_batcher.ts`).
 * Expiry does not exist in ringkv, so EX/PX/EXAT/PXAT are refused.
 */
import { parseVersion } from '../core/version_id.js';
import { CommandError, syntaxError, word, type CommandContext, type CommandSpec } from './resp_command_types.js';
import { array, bulk, integer, NULL, OK, type Reply } from './resp_writer.js';

/**
 * The sibling plain GET answers: the one with the greatest version, comparing
 * actor ids by code unit and then counters as numbers. Deterministic: every
 * server and every read of the same sibling set picks the same one.
 */
export function pickSibling(values: readonly Buffer[], versions: readonly string[]): Buffer | null {
  let best = -1;
  let bestVersion: { actor: string; counter: number } | null = null;
  for (let i = 0; i < values.length; i++) {
    const version = parseVersion(versions[i] ?? '');
    if (
      bestVersion === null ||
      version.actor > bestVersion.actor ||
      (version.actor === bestVersion.actor && version.counter > bestVersion.counter)
    ) {
      best = i;
      bestVersion = version;
    }
  }
  return best < 0 ? null : values[best]!;
}

/** The value GET answers for `key`, or null. */
async function readOne(ctx: CommandContext, key: Buffer): Promise<Buffer | null> {
  const result = await ctx.read(key, () => ctx.cluster.get(key));
  return pickSibling(result.values, result.versions);
}

/** Overwrite `key` with `value` in one round trip (see the file header). */
function overwrite(ctx: CommandContext, key: Buffer, value: Buffer): Promise<unknown> {
  return ctx.write(key, () => ctx.cluster.put(key, value, { overwrite: true }));
}

/** Overwrite `key` with `value` (read for the context, then put), unless `condition` on the old value says no. */
function readThenWrite(
  ctx: CommandContext,
  key: Buffer,
  value: Buffer,
  condition: (exists: boolean) => boolean = () => true,
): Promise<{ written: boolean; old: Buffer | null }> {
  return ctx.write(key, async () => {
    const current = await ctx.cluster.get(key);
    const old = pickSibling(current.values, current.versions);
    if (!condition(current.values.length > 0)) return { written: false, old };
    await ctx.cluster.put(key, value, { context: current.context });
    return { written: true, old };
  });
}

const get: CommandSpec = {
  name: 'get',
  arity: 2,
  flags: ['readonly', 'fast'],
  keys: [1, 1, 1],
  group: 'string',
  summary: 'Get the value of a key (one deterministic sibling when there are several; KV.GET shows all).',
  async run(args, ctx) {
    const value = await readOne(ctx, args[1]!);
    return value === null ? NULL : bulk(value);
  },
};

const set: CommandSpec = {
  name: 'set',
  arity: -3,
  flags: ['write'],
  keys: [1, 1, 1],
  group: 'string',
  summary: 'Set a key to a value, superseding what its coordinating replica holds (a concurrent unseen write stays as a sibling). NX/XX/GET are supported (decided on a read first); EX/PX are refused: ringkv has no expiry.',
  async run(args, ctx) {
    let nx = false;
    let xx = false;
    let returnOld = false;
    for (const option of args.slice(3).map(word)) {
      if (option === 'NX') nx = true;
      else if (option === 'XX') xx = true;
      else if (option === 'GET') returnOld = true;
      else if (option === 'KEEPTTL') continue; // no key has a TTL, so keeping it is a no-op
      else if (['EX', 'PX', 'EXAT', 'PXAT'].includes(option)) {
        throw new CommandError(`ERR ringkv has no key expiry: SET ... ${option} is not supported; store without it and delete keys explicitly`);
      } else throw syntaxError(`unknown SET option '${option}'`);
    }
    if (nx && xx) throw syntaxError('NX and XX exclude each other');
    if (!nx && !xx && !returnOld) {
      await overwrite(ctx, args[1]!, args[2]!);
      return OK;
    }
    const outcome = await readThenWrite(ctx, args[1]!, args[2]!, (exists) => (nx ? !exists : xx ? exists : true));
    if (returnOld) return outcome.old === null ? NULL : bulk(outcome.old);
    return outcome.written ? OK : NULL;
  },
};

const del: CommandSpec = {
  name: 'del',
  arity: -2,
  flags: ['write'],
  keys: [1, -1, 1],
  group: 'generic',
  summary: 'Delete keys (a tombstone superseding what a read finds); answers how many had a value.',
  async run(args, ctx) {
    const deleted = await Promise.all(
      args.slice(1).map((key) =>
        ctx.write(key, async () => {
          const current = await ctx.cluster.get(key);
          if (current.values.length === 0) return 0;
          await ctx.cluster.delete(key, { context: current.context });
          return 1;
        }),
      ),
    );
    return integer(deleted.reduce<number>((sum, n) => sum + n, 0));
  },
};

const exists: CommandSpec = {
  name: 'exists',
  arity: -2,
  flags: ['readonly', 'fast'],
  keys: [1, -1, 1],
  group: 'generic',
  summary: 'Count the given keys that have a value (a key given twice counts twice).',
  async run(args, ctx) {
    const found = await Promise.all(args.slice(1).map(async (key) => ((await readOne(ctx, key)) === null ? 0 : 1)));
    return integer(found.reduce<number>((sum, n) => sum + n, 0));
  },
};

const mget: CommandSpec = {
  name: 'mget',
  arity: -2,
  flags: ['readonly', 'fast'],
  keys: [1, -1, 1],
  group: 'string',
  summary: 'Get the values of keys, read concurrently (one deterministic sibling each).',
  async run(args, ctx) {
    const values = await Promise.all(args.slice(1).map((key) => readOne(ctx, key)));
    return array(values.map((value): Reply => (value === null ? NULL : bulk(value))));
  },
};

const mset: CommandSpec = {
  name: 'mset',
  arity: -3,
  flags: ['write'],
  keys: [1, -1, 2],
  group: 'string',
  summary: 'Set keys to values, written concurrently (not atomic: on an error some keys may be written). A key given twice takes its last value.',
  async run(args, ctx) {
    if (args.length % 2 !== 1) throw new CommandError("ERR wrong number of arguments for 'mset' command");
    const lastValue = new Map<string, [Buffer, Buffer]>();
    for (let i = 1; i < args.length; i += 2) lastValue.set(args[i]!.toString('latin1'), [args[i]!, args[i + 1]!]);
    await Promise.all([...lastValue.values()].map(([key, value]) => overwrite(ctx, key, value)));
    return OK;
  },
};

/** The commands of this file. */
export const KV_COMMANDS: readonly CommandSpec[] = [get, set, del, exists, mget, mset];
