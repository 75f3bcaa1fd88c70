/**
 * ringkv's own commands, for what Redis has no words for: siblings and causal
 * contexts, replica counts, where a key lives, the cluster's state.
 *
 * Reply shapes:
 *   KV.GET key [R n | CONSISTENCY level]
 *       -> *3: context (bulk; "" when the key was never written),
 *              values (array of bulks, one per sibling, [] when absent or deleted),
 *              versions (array of bulks "actor:counter", parallel to values)
 *   KV.PUT key context value [W n | CONSISTENCY level]
 *       -> context (bulk) covering the new version and any sibling kept beside it.
 *          context "" writes without context: beside existing values, a sibling.
 *   KV.DEL key context [W n | CONSISTENCY level]
 *       -> context (bulk) after the tombstone
 *   KV.EXPLAIN key -> bulk JSON of the cluster's ExplainResult (values as
 *       {"utf8": text} or {"base64": bytes})
 *   KV.STATUS -> bulk JSON of the cluster's ClusterStatus
 */
import type { ReadOptions, WriteOptions } from '../cluster/cluster_types.js';
import { consistencyOptions, text, type ConsistencyOption, type CommandSpec } from './resp_command_types.js';
import { array, bulk, type Reply } from './resp_writer.js';

const kvGet: CommandSpec = {
  name: 'kv.get',
  arity: -2,
  flags: ['readonly', 'fast'],
  keys: [1, 1, 1],
  group: 'ringkv',
  summary: 'Read a key: [context, [values...], [versions...]], every sibling included.',
  async run(args, ctx) {
    const key = args[1]!;
    const options = readOptions(consistencyOptions(args, 2, 'R'));
    const result = await ctx.read(key, () => ctx.cluster.get(key, options));
    return array([
      bulk(result.context),
      array(result.values.map((value): Reply => bulk(value))),
      array(result.versions.map((version): Reply => bulk(version))),
    ]);
  },
};

const kvPut: CommandSpec = {
  name: 'kv.put',
  arity: -4,
  flags: ['write'],
  keys: [1, 1, 1],
  group: 'ringkv',
  summary: 'Write a value with the context of a read (superseding what it saw; "" = no context); answers the new context.',
  async run(args, ctx) {
    const key = args[1]!;
    const options = writeOptions(text(args[2]), consistencyOptions(args, 4, 'W'));
    const result = await ctx.write(key, () => ctx.cluster.put(key, args[3]!, options));
    return bulk(result.context);
  },
};

const kvDel: CommandSpec = {
  name: 'kv.del',
  arity: -3,
  flags: ['write'],
  keys: [1, 1, 1],
  group: 'ringkv',
  summary: 'Write a tombstone superseding what the context covers; answers the new context.',
  async run(args, ctx) {
    const key = args[1]!;
    const options = writeOptions(text(args[2]), consistencyOptions(args, 3, 'W'));
    const result = await ctx.write(key, () => ctx.cluster.delete(key, options));
    return bulk(result.context);
  },
};

const kvExplain: CommandSpec = {
  name: 'kv.explain',
  arity: 2,
  flags: ['readonly'],
  keys: [1, 1, 1],
  group: 'ringkv',
  summary: "Where a key lives (position, preference list, fallbacks) and every replica's versions, as JSON.",
  async run(args, ctx) {
    const key = args[1]!;
    const explained = await ctx.read(key, () => ctx.cluster.explain(key));
    return bulk(JSON.stringify(explained, bytesAsJson, 2));
  },
};

const kvStatus: CommandSpec = {
  name: 'kv.status',
  arity: 1,
  flags: ['readonly'],
  keys: [0, 0, 0],
  group: 'ringkv',
  summary: 'The cluster at a glance (members, liveness, ring ownership, hints, replication), as JSON.',
  async run(_args, ctx) {
    return bulk(JSON.stringify(await ctx.cluster.status(), bytesAsJson, 2));
  },
};

/** The commands of this file. */
export const RINGKV_COMMANDS: readonly CommandSpec[] = [kvGet, kvPut, kvDel, kvExplain, kvStatus];

function readOptions(option: ConsistencyOption): ReadOptions {
  if (option.count !== undefined) return { r: option.count };
  if (option.consistency !== undefined) return { consistency: option.consistency };
  return {};
}

function writeOptions(context: string, option: ConsistencyOption): WriteOptions {
  if (option.count !== undefined) return { context, w: option.count };
  if (option.consistency !== undefined) return { context, consistency: option.consistency };
  return { context };
}

/** JSON.stringify replacer: Buffers (which arrive as {type:'Buffer',data}) become UTF-8 text or base64. */
function bytesAsJson(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    const bytes = Buffer.from((value as { data: number[] }).data);
    const utf8 = bytes.toString('utf8');
    return Buffer.from(utf8, 'utf8').equals(bytes) ? { utf8 } : { base64: bytes.toString('base64') };
  }
  return value;
}
