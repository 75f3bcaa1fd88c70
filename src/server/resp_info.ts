/**
 * INFO and DBSIZE: the server, its clients, its keyspace and its replication,
 * told as ringkv facts in the `field:value` lines Redis tools parse.
 *
 * Key counts are estimates (`estimateKeys`): each member reports the live
 * keys its replica holds (`keysEstimate`: not deleted, each once), and every
 * key lives on `n` replicas, so the count is their sum divided by `n`. Exact
 * once every replica holds every write; not a snapshot.
 */
import { hostname } from 'node:os';
import type { ClusterStatus } from '../cluster/cluster_types.js';
import { VALUE_MAX_BYTES } from '../core/limits.js';
import { CommandError, word, type CommandContext, type CommandSpec } from './resp_command_types.js';
import { bulk, integer, map } from './resp_writer.js';

/** Version of the Redis protocol and commands the server speaks, for tools that check it. */
export const REDIS_COMPATIBLE_VERSION = '7.0.0';
/** ringkv's own version. */
export const RINGKV_VERSION = '0.1.0';

const SECTIONS = ['server', 'clients', 'keyspace', 'replication'] as const;
type Section = (typeof SECTIONS)[number];

/**
 * Live keys in the cluster (DBSIZE, INFO keyspace), an estimate: each member
 * counts the live keys its replica holds (not deleted, each once: a
 * background scan, `storage/live_keys.ts`), and every key lives on N
 * replicas, so the sum is divided by N. Exact when every replica of every
 * key holds every write and delete; otherwise off by the keys whose replicas
 * disagree (hints pending, a replica behind), divided by N. Members that did
 * not answer (stopped, failed) are made up for by the share of the ring the
 * others hold (each member holds about N times its ownership of the keys).
 */
export function estimateKeys(status: ClusterStatus): number {
  let sum = 0;
  let share = 0;
  for (const member of status.members) {
    if (member.keysEstimate === null) continue;
    sum += member.keysEstimate;
    share += member.ownership;
  }
  if (share <= 0) return 0;
  return Math.round(sum / (Math.max(1, status.replication.n) * Math.min(1, share)));
}

const info: CommandSpec = {
  name: 'info',
  arity: -1,
  flags: ['loading', 'stale'],
  keys: [0, 0, 0],
  group: 'server',
  summary: 'Server, clients, keyspace (estimated key count) and replication facts of ringkv.',
  async run(args, ctx) {
    const asked = args.slice(1).map((a) => word(a).toLowerCase());
    const all = asked.length === 0 || asked.some((s) => s === 'all' || s === 'default' || s === 'everything');
    const sections = SECTIONS.filter((s) => all || asked.includes(s));
    const needsStatus = sections.includes('keyspace') || sections.includes('replication');
    const status = needsStatus ? await ctx.cluster.status() : null;
    const text = sections.map((s) => renderSection(s, ctx, status)).join('\r\n');
    return bulk(text);
  },
};

const dbsize: CommandSpec = {
  name: 'dbsize',
  arity: 1,
  flags: ['readonly', 'fast'],
  keys: [0, 0, 0],
  group: 'server',
  summary:
    'Number of live keys (deleted keys not counted, each key once), an estimate: the replicas\' live-key counts (a background scan, at most a second old while writes come in) summed and divided by n; exact once every replica holds every write.',
  async run(_args, ctx) {
    return integer(estimateKeys(await ctx.cluster.status()));
  },
};

const config: CommandSpec = {
  name: 'config',
  arity: -2,
  flags: ['loading', 'stale'],
  keys: [0, 0, 0],
  group: 'server',
  summary: 'CONFIG GET pattern: read-only view of the few Redis parameters tools ask for (save, appendonly, maxclients, timeout, proto-max-bulk-len, databases). CONFIG SET is refused.',
  run(args, ctx) {
    if (word(args[1]) !== 'GET' || args.length < 3) {
      throw new CommandError('ERR ringkv supports only CONFIG GET parameter...; settings are given when ringkv starts');
    }
    const parameters: [string, string][] = [
      ['save', ''],
      ['appendonly', 'no'],
      ['databases', '1'],
      ['maxclients', String(ctx.server.clientsMax)],
      ['timeout', String(Math.floor(ctx.server.idleTimeoutMs / 1000))],
      // The largest bulk a client may send and have stored: a value. The parser reads bulks up to
      // bulkMaxBytes (16 MiB by default), so a larger value is refused with an error naming
      // VALUE_MAX_BYTES instead of a protocol error that closes the connection.
      ['proto-max-bulk-len', String(Math.min(ctx.server.bulkMaxBytes, VALUE_MAX_BYTES))],
    ];
    const patterns = args.slice(2).map((a) => globToRegExp(a.toString('utf8').toLowerCase()));
    return map(parameters.filter(([name]) => patterns.some((p) => p.test(name))).map(([name, value]) => [name, bulk(value)] as const));
  },
};

/** The commands of this file. */
export const INFO_COMMANDS: readonly CommandSpec[] = [info, dbsize, config];

/** A Redis glob (* ? only) as an anchored regular expression. */
function globToRegExp(glob: string): RegExp {
  const body = [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`);
}

function renderSection(section: Section, ctx: CommandContext, status: ClusterStatus | null): string {
  const title = section[0]!.toUpperCase() + section.slice(1);
  return `# ${title}\r\n${fields(section, ctx, status)
    .map(([k, v]) => `${k}:${v}\r\n`)
    .join('')}`;
}

function fields(section: Section, ctx: CommandContext, status: ClusterStatus | null): [string, string | number][] {
  switch (section) {
    case 'server': {
      const uptime_s = Math.floor((Date.now() - ctx.server.startedAt_ms) / 1000);
      return [
        ['redis_version', REDIS_COMPATIBLE_VERSION],
        ['ringkv_version', RINGKV_VERSION],
        ['redis_mode', 'standalone'],
        ['os', `${process.platform} ${process.arch}`],
        ['host', hostname()],
        ['arch_bits', 64],
        ['process_id', process.pid],
        ['node_version', process.version],
        ['tcp_port', ctx.server.port],
        ['uptime_in_seconds', uptime_s],
        ['uptime_in_days', Math.floor(uptime_s / 86400)],
        ['cluster_nodes', ctx.cluster.nodes.join(',')],
        ['loading', 0],
      ];
    }
    case 'clients':
      return [
        ['connected_clients', ctx.server.connections()],
        ['maxclients', ctx.server.clientsMax],
        ['blocked_clients', 0],
        ['requirepass', ctx.server.passwordSet ? 'yes' : 'no'],
      ];
    case 'keyspace':
      if (status === null) throw new CommandError('ERR cluster status unavailable');
      return [['db0', `keys=${estimateKeys(status)},expires=0,avg_ttl=0,estimated=1`]];
    case 'replication': {
      if (status === null) throw new CommandError('ERR cluster status unavailable');
      const r = status.replication;
      return [
        ['role', 'master'],
        ['connected_slaves', 0],
        ['ringkv_leaderless', 'yes'],
        ['ringkv_members', status.members.length],
        ['ringkv_members_running', status.members.filter((m) => m.running).length],
        ['ringkv_replicas_per_key', r.n],
        ['ringkv_replicas_per_dc', Object.entries(r.dcs).map(([dc, n]) => `${dc}=${n}`).join(',')],
        ['ringkv_write_acks', r.w],
        ['ringkv_read_answers', r.r],
        ['ringkv_strict_quorum', r.strict ? 'yes' : 'no'],
        ['ringkv_hints_held', status.members.reduce((sum, m) => sum + (m.hintsHeld ?? 0), 0)],
      ];
    }
  }
}
