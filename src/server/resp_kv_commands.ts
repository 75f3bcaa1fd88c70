/**
 * Redis's string and key commands over a Dynamo cluster: GET, SET, DEL,
 * EXISTS, MGET, MSET.
 *
 * A key may hold siblings (concurrent writes). GET, MGET and SET ... GET
 * answer one of them, the one a plain Redis client would expect: the
 * sibling written last (`pickSibling`: greatest write time by its minting
 * node's clock, ties broken by the greater dot); each such read that hid
 * siblings is counted in `ringkv_get_hidden_siblings_total`. KV.GET shows
 * all of them, with the context that supersedes them all.
 * SET and MSET are overwrites (`WriteOptions.overwrite`): in one round trip
 * the new value supersedes every version the coordinating owner of the key
 * holds, as in Redis; a write made concurrently by another client that the
 * owner has not seen yet stays beside it as a sibling rather than being
 * lost. SET with NX, XX or GET, and DEL, read the key first (they need the
 * old value) and write with the context of that read, superseding exactly
 * what was read; NX and XX are honest but not atomic against other clients
 * (a racing writer becomes a sibling, never a lost write). MSET is not
 * atomic either: each key is its own write, and on a failure some keys may
 * be written. The writes of one event-loop turn (a pipeline's, MSET's) go
 * as one message per coordinator (the cluster client batches per turn).
 * Expiry does not exist in ringkv, so EX/PX/EXAT/PXAT are refused.
 */
import type { ReadResult } from '../cluster/cluster_types.js';
import { parseVersion } from '../core/version_id.js';
import { CommandError, syntaxError, word, type CommandContext, type CommandSpec } from './resp_command_types.js';
import { array, bulk, integer, NULL, OK, type Reply } from './resp_writer.js';

/**
 * The sibling a plain Redis read answers, "last writer wins" as a Redis
 * client expects, though nothing is lost (the others stay, KV.GET shows
 * them):
 *   1. the greatest `ts_ms`: the sibling written last by the clock of the
 *      node that minted it (clocks of different nodes may disagree, so
 *      "last" is as their clocks said; Cassandra's rule for cells);
 *   2. on equal times, the greater dot: actor id by UTF-16 code unit, then
 *      counter as a number.
 * Deterministic: every server and every read of one sibling set picks the
 * same one. Returns the index into `read.values`, or -1 when there is none.
 */
export function pickSibling(read: Pick<ReadResult, 'values' | 'versions' | 'timestamps'>): number {
  let best = -1;
  let bestTs = 0;
  let bestVersion: { actor: string; counter: number } | null = null;
  for (let i = 0; i < read.values.length; i++) {
    const ts = read.timestamps[i] ?? 0;
    const version = parseVersion(read.versions[i] ?? '');
    const later =
      bestVersion === null ||
      ts > bestTs ||
      (ts === bestTs && (version.actor > bestVersion.actor || (version.actor === bestVersion.actor && version.counter > bestVersion.counter)));
    if (later) {
      best = i;
      bestTs = ts;
      bestVersion = version;
    }
  }
  return best;
}

/** The value a plain read answers for `read` (see `pickSibling`), counting the read if it hid siblings. */
function answerOf(ctx: CommandContext, read: ReadResult): Buffer | null {
  if (read.values.length > 1) ctx.hidSiblings();
  const at = pickSibling(read);
  return at < 0 ? null : read.values[at]!;
}

/** A plain read answers no context (a Redis client has no use for one). */
const NO_CONTEXT = { returnContext: false } as const;

/** The value GET answers for `key`, or null. */
async function readOne(ctx: CommandContext, key: Buffer): Promise<Buffer | null> {
  return answerOf(ctx, await ctx.read(key, () => ctx.cluster.get(key, NO_CONTEXT)));
}

/** Whether `key` has a value (EXISTS shows no value, so it hides nothing). */
async function hasValue(ctx: CommandContext, key: Buffer): Promise<boolean> {
  return (await ctx.read(key, () => ctx.cluster.get(key, NO_CONTEXT))).values.length > 0;
}

/** Overwrite `key` with `value` in one round trip (see the file header). */
function overwrite(ctx: CommandContext, key: Buffer, value: Buffer): Promise<unknown> {
  return ctx.write(key, () => ctx.cluster.put(key, value, { overwrite: true, returnContext: false }));
}

/** Overwrite `key` with `value` (read for the context, then put), unless `condition` on the old value says no. */
function readThenWrite(
  ctx: CommandContext,
  key: Buffer,
  value: Buffer,
  condition: (exists: boolean) => boolean = () => true,
): Promise<{ written: boolean; old: Buffer | null; siblings: number }> {
  return ctx.write(key, async () => {
    const current = await ctx.cluster.get(key);
    const at = pickSibling(current);
    const old = at < 0 ? null : current.values[at]!;
    const siblings = current.values.length;
    if (!condition(siblings > 0)) return { written: false, old, siblings };
    await ctx.cluster.put(key, value, { context: current.context, returnContext: false });
    return { written: true, old, siblings };
  });
}

const get: CommandSpec = {
  name: 'get',
  arity: 2,
  flags: ['readonly', 'fast'],
  keys: [1, 1, 1],
  group: 'string',
  summary: 'Get the value of a key (of several siblings, the one written last; KV.GET shows all).',
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
    if (returnOld && outcome.siblings > 1) ctx.hidSiblings();
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
          await ctx.cluster.delete(key, { context: current.context, returnContext: false });
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
    const found = await Promise.all(args.slice(1).map(async (key) => ((await hasValue(ctx, key)) ? 1 : 0)));
    return integer(found.reduce<number>((sum, n) => sum + n, 0));
  },
};

const mget: CommandSpec = {
  name: 'mget',
  arity: -2,
  flags: ['readonly', 'fast'],
  keys: [1, -1, 1],
  group: 'string',
  summary: 'Get the values of keys, read concurrently (of several siblings, the one written last).',
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
