/**
 * The one check of a cluster's options, run before anything starts: node
 * count and ids, data centers, racks and weights, replication (N per data
 * center, W and R within 1..N, data-center levels against the replica
 * layout), sync mode, request deadline and data directory. Every problem is
 * found (not only the first) and said in one sentence with what to do.
 *
 * `openCluster` throws them as one `ConfigError`; `ringkv start` checks its
 * flags with the same function (`start_flags.ts`), naming each option by
 * its flag instead of its field (`OptionNames`), and exits 1 listing them.
 *
 * Pure: no I/O. Safe from any thread.
 */
import type { ClusterOptions, NodeSpec, PeersOptions, ReplicationOptions } from './cluster_types.js';
import { parseAddress, type PeerAddress } from '../core/peer_address.js';
import { CONSISTENCY_LEVELS } from '../core/consistency.js';
import { ConfigError } from '../core/errors.js';
import { AE_LEAF_BITS_MAX, AE_LEAF_BITS_MIN, CLUSTER_SECRET_MIN_BYTES, MEMBERS_MAX, REQUEST_TIMEOUT_MAX_MS, THREADS_MAX } from '../core/limits.js';

/** Nodes one process can run: each is a worker thread, and thread 0 is the main one. */
const NODES_PER_PROCESS_MAX = Math.min(MEMBERS_MAX, THREADS_MAX - 1);

/** Replicas per key when the options do not say (capped by the node count). */
export const DEFAULT_REPLICAS = 3;

/** Data center of a node that names none. */
export const DEFAULT_DC = 'dc1';

/** Largest node weight (a weight is a share of the ring relative to 1). */
export const NODE_WEIGHT_MAX = 2;

/** Node ids, data-center and rack names: letters, digits, '_', '.', '-' (they name directories and metric labels). */
export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Names a node id may not take because they name something else in the
 * data directory (its lock, its cluster record) or are not a directory of
 * their own; compared without case (case-insensitive file systems).
 */
const RESERVED_NODE_IDS = ['.', '..', 'lock', 'cluster', 'cluster.tmp'];

/** An option, by its field path in `ClusterOptions`. */
export type OptionField = 'nodes' | 'dataDir' | 'replication.n' | 'replication.dcs' | 'replication.w' | 'replication.r' | 'replication.strict' | 'syncMode' | 'requestTimeoutMs' | 'threads' | 'antiEntropy' | 'peers.listen' | 'peers.seeds' | 'peers.secret' | 'transfers';

/** How each option is called where the user gave it (a field path, a CLI flag). */
export type OptionNames = (field: OptionField) => string;

/** Options named by their field paths, as `openCluster` takes them. */
export const FIELD_NAMES: OptionNames = (field) => field;

/** The options `checkClusterOptions` reads; every field but `nodes` may be absent. */
export type CheckedOptions = Pick<ClusterOptions, 'nodes'> & Partial<Omit<ClusterOptions, 'nodes'>>;

/** Throw one `ConfigError` listing every problem of `options`; return if there is none. */
export function checkClusterOptions(options: CheckedOptions, names: OptionNames = FIELD_NAMES): void {
  const problems = clusterOptionProblems(options, names);
  if (problems.length > 0) throw new ConfigError(problems);
}

/** Every problem of `options`, one message each; [] when they are fine. */
export function clusterOptionProblems(options: CheckedOptions, names: OptionNames = FIELD_NAMES): string[] {
  const problems: string[] = [];
  const specs = nodeSpecProblems(options.nodes, names, problems);
  // Across processes the replicas are checked against every member, once the cluster formed (`cluster_formation.ts`).
  if (specs !== null && options.peers === undefined) replicationProblems(options.replication ?? {}, specs, names, problems);
  if (options.peers !== undefined) peersProblems(options.peers, names, problems);
  if ('dataDir' in options && !(typeof options.dataDir === 'string' && options.dataDir.length > 0)) {
    problems.push(`${names('dataDir')} must name a directory (got ${show(options.dataDir)})`);
  }
  if (options.syncMode !== undefined && options.syncMode !== 'batch' && options.syncMode !== 'periodic') {
    problems.push(`${names('syncMode')} is batch or periodic, not ${show(options.syncMode)}`);
  }
  const threads = options.threads;
  if (threads !== undefined && !(Number.isSafeInteger(threads) && threads >= 1 && threads <= NODES_PER_PROCESS_MAX)) {
    problems.push(`${names('threads')} is a whole number of worker threads in 1..${NODES_PER_PROCESS_MAX}, not ${show(threads)}`);
  }
  antiEntropyProblems(options.antiEntropy, names, problems);
  const rate = options.transfers?.bytesPerSecond;
  if (rate !== undefined && !(Number.isFinite(rate) && rate >= 1)) problems.push(`${names('transfers')}.bytesPerSecond is a number of bytes per second of at least 1, not ${show(rate)}`);
  const timeout = options.requestTimeoutMs;
  if (timeout !== undefined && !(Number.isSafeInteger(timeout) && timeout >= 1 && timeout <= REQUEST_TIMEOUT_MAX_MS)) {
    problems.push(`${names('requestTimeoutMs')} is a whole number of ms in 1..${REQUEST_TIMEOUT_MAX_MS}, not ${show(timeout)}`);
  }
  return problems;
}

/** The node specs `nodes` stands for (ids n1..nK for a count). */
export function nodeSpecsOf(nodes: ClusterOptions['nodes']): NodeSpec[] {
  return typeof nodes === 'number' ? Array.from({ length: nodes }, (_, i) => ({ id: `n${i + 1}` })) : nodes;
}

function peersProblems(peers: PeersOptions, names: OptionNames, problems: string[]): void {
  const address = (text: unknown, field: 'peers.listen' | 'peers.seeds'): PeerAddress | null => {
    try {
      if (typeof text !== 'string') throw new RangeError(`${show(text)} is not host:port`);
      return parseAddress(text);
    } catch (err) {
      problems.push(`${names(field)}: ${(err as Error).message}`);
      return null;
    }
  };
  const listen = address(peers.listen, 'peers.listen');
  if (listen !== null && ['0.0.0.0', '::', '*'].includes(listen.host)) {
    problems.push(`${names('peers.listen')} ${peers.listen}: give the address the other processes reach this one at (it is what they dial), not a wildcard`);
  }
  if (!Array.isArray(peers.seeds) || peers.seeds.length === 0) problems.push(`${names('peers.seeds')}: list at least one host:port of a peer process (this process's own address counts)`);
  else for (const seed of peers.seeds) address(seed, 'peers.seeds');
  const secret = typeof peers.secret === 'string' ? Buffer.byteLength(peers.secret) : peers.secret instanceof Uint8Array ? peers.secret.length : -1;
  if (secret < CLUSTER_SECRET_MIN_BYTES) {
    problems.push(`${names('peers.secret')} must be at least ${CLUSTER_SECRET_MIN_BYTES} bytes (it keeps other programs off the peer port); use the same long random string in every process`);
  }
}

function nodeSpecProblems(nodes: unknown, names: OptionNames, problems: string[]): NodeSpec[] | null {
  const option = names('nodes');
  if (typeof nodes === 'number') {
    if (!Number.isSafeInteger(nodes) || nodes < 1 || nodes > NODES_PER_PROCESS_MAX) {
      problems.push(`${option} ${show(nodes)}: a cluster in one process has 1..${NODES_PER_PROCESS_MAX} nodes`);
      return null;
    }
    return nodeSpecsOf(nodes);
  }
  if (!Array.isArray(nodes)) {
    problems.push(`${option} is a node count or a list of nodes ({ id, dc?, rack?, weight? }), not ${show(nodes)}`);
    return null;
  }
  if (nodes.length < 1 || nodes.length > NODES_PER_PROCESS_MAX) {
    problems.push(`${option} lists ${nodes.length} nodes: a cluster in one process has 1..${NODES_PER_PROCESS_MAX}`);
    return null;
  }
  const before = problems.length;
  const seen = new Set<string>();
  nodes.forEach((raw: unknown, i) => {
    const spec = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<Record<keyof NodeSpec, unknown>>;
    const id = spec.id;
    const where = `${option}[${i}]`;
    if (typeof id !== 'string' || !NAME_PATTERN.test(id)) {
      problems.push(`${where}: node id ${show(id)} must be 1-64 letters, digits, '_', '.' or '-'`);
    } else if (RESERVED_NODE_IDS.includes(id.toLowerCase()) || id.toLowerCase().startsWith('lock.')) {
      problems.push(`${where}: node id "${id}" names a file of the data directory (or no directory); pick another id`);
    } else if (seen.has(id)) {
      problems.push(`${where}: node id "${id}" appears twice; node ids are unique`);
    }
    if (typeof id === 'string') seen.add(id);
    for (const field of ['dc', 'rack'] as const) {
      const value = spec[field];
      if (value !== undefined && !(typeof value === 'string' && NAME_PATTERN.test(value))) {
        problems.push(`${where}: ${field} ${show(value)} must be 1-64 letters, digits, '_', '.' or '-'`);
      }
    }
    const weight = spec.weight;
    if (weight !== undefined && !(typeof weight === 'number' && weight > 0 && weight <= NODE_WEIGHT_MAX)) {
      problems.push(`${where}: weight ${show(weight)} must be in (0, ${NODE_WEIGHT_MAX}] (1 is an average node's share)`);
    }
  });
  return problems.length === before ? (nodes as NodeSpec[]) : null;
}

function replicationProblems(options: ReplicationOptions, specs: readonly NodeSpec[], names: OptionNames, problems: string[]): void {
  const nodesPerDc = new Map<string, number>();
  for (const spec of specs) nodesPerDc.set(spec.dc ?? DEFAULT_DC, (nodesPerDc.get(spec.dc ?? DEFAULT_DC) ?? 0) + 1);
  const replicas = replicasPerDcProblems(options, nodesPerDc, names, problems);
  if (options.strict !== undefined && typeof options.strict !== 'boolean') {
    problems.push(`${names('replication.strict')} is true or false, not ${show(options.strict)}`);
  }
  if (replicas === null) return;
  const n = [...replicas.values()].reduce((a, b) => a + b, 0);
  const nName = options.dcs ? `N=${n} (${names('replication.dcs')})` : options.n !== undefined ? `${names('replication.n')} ${n}` : `N=${n} (the default of ${names('replication.n')})`;
  for (const [field, required] of [['replication.w', options.w], ['replication.r', options.r]] as const) {
    if (required === undefined) continue;
    const what = field === 'replication.w' ? 'a write' : 'a read';
    const answers = field === 'replication.w' ? 'acknowledgements' : 'answers';
    if (typeof required === 'number') {
      if (!Number.isSafeInteger(required) || required < 1) {
        problems.push(`${names(field)} ${show(required)}: ${what} needs at least 1 replica; use 1..${n} or a level (${CONSISTENCY_LEVELS.join(', ')})`);
      } else if (required > n) {
        problems.push(
          `${names(field)} ${required} is more than ${nName} replicas per key: ${what} could never gather ${required} ${answers}, so every one would fail; ` +
            `use 1..${n}, a level (${CONSISTENCY_LEVELS.join(', ')}), or more replicas`,
        );
      }
      continue;
    }
    if (!(CONSISTENCY_LEVELS as readonly unknown[]).includes(required)) {
      problems.push(`${names(field)} ${show(required)} is not a count or a level; use 1..${n} or one of ${CONSISTENCY_LEVELS.join(', ')}`);
      continue;
    }
    if (required === 'local_quorum') {
      for (const [dc, count] of nodesPerDc) {
        if ((replicas.get(dc) ?? 0) > 0) continue;
        problems.push(
          `${names(field)} local_quorum: data center ${dc} has ${count} node(s) but no replicas, so a request it coordinates has no local replica to count; ` +
            `give ${dc} replicas in ${names('replication.dcs')}, or use quorum or each_quorum`,
        );
      }
    }
  }
}

/** Replicas per data center (summing to N) with their problems added; null when they cannot be worked out. */
function replicasPerDcProblems(options: ReplicationOptions, nodesPerDc: ReadonlyMap<string, number>, names: OptionNames, problems: string[]): Map<string, number> | null {
  if (options.dcs !== undefined) {
    if (typeof options.dcs !== 'object' || options.dcs === null) {
      problems.push(`${names('replication.dcs')} maps data centers to replica counts, e.g. { dc1: 3, dc2: 2 }, not ${show(options.dcs)}`);
      return null;
    }
    const replicas = new Map<string, number>();
    const before = problems.length;
    for (const [dc, count] of Object.entries(options.dcs)) {
      const nodes = nodesPerDc.get(dc) ?? 0;
      if (!Number.isSafeInteger(count) || count < 0 || count > nodes) {
        problems.push(`${names('replication.dcs')}.${dc} = ${show(count)}, but ${dc} has ${nodes} node(s): give 0..${nodes} replicas there`);
      } else replicas.set(dc, count);
    }
    if (problems.length > before) return null;
    const n = [...replicas.values()].reduce((a, b) => a + b, 0);
    if (n < 1) problems.push(`${names('replication.dcs')} places no replica anywhere; give at least one data center a replica`);
    if (options.n !== undefined && options.n !== n) {
      problems.push(`${names('replication.n')} ${show(options.n)} disagrees with ${names('replication.dcs')}, which places ${n} replicas; give one of them`);
    }
    return n < 1 ? null : replicas;
  }
  if (nodesPerDc.size > 1) {
    problems.push(`the nodes span data centers ${[...nodesPerDc.keys()].join(', ')}: give ${names('replication.dcs')}, e.g. { dc1: 3, dc2: 2 }`);
    return null;
  }
  const [dc, nodes] = [...nodesPerDc.entries()][0]!;
  const n = options.n ?? Math.min(DEFAULT_REPLICAS, nodes);
  if (!Number.isSafeInteger(n) || n < 1) {
    problems.push(`${names('replication.n')} ${show(n)}: a key needs at least 1 replica; use 1..${nodes}`);
    return null;
  }
  if (n > nodes) {
    problems.push(`${names('replication.n')} ${n} is more than the ${nodes} node(s) (${names('nodes')}): each replica of a key is on its own node; use 1..${nodes} or more nodes`);
  }
  return new Map([[dc, n]]);
}

/** A value as a message shows it. */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  try {
    return JSON.stringify(value).slice(0, 60);
  } catch {
    return typeof value;
  }
}


/** Problems of the `antiEntropy` option: a boolean, or an object of positive whole numbers (leaf bits within the tree limits). */
function antiEntropyProblems(ae: CheckedOptions['antiEntropy'], names: OptionNames, problems: string[]): void {
  if (ae === undefined || typeof ae === 'boolean') return;
  if (typeof ae !== 'object' || ae === null) {
    problems.push(`${names('antiEntropy')} is true, false or an object of settings, not ${show(ae)}`);
    return;
  }
  const { leafBits, ...rates } = ae;
  if (leafBits !== undefined && !(Number.isSafeInteger(leafBits) && leafBits >= AE_LEAF_BITS_MIN && leafBits <= AE_LEAF_BITS_MAX)) {
    problems.push(`${names('antiEntropy')}.leafBits is a whole number in ${AE_LEAF_BITS_MIN}..${AE_LEAF_BITS_MAX}, not ${show(leafBits)}`);
  }
  for (const [field, value] of Object.entries(rates)) {
    if (!['intervalMs', 'rebuildIntervalMs', 'bytesPerSecond'].includes(field)) problems.push(`${names('antiEntropy')}.${field} is not a setting (intervalMs, rebuildIntervalMs, bytesPerSecond, leafBits)`);
    else if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 1)) problems.push(`${names('antiEntropy')}.${field} is a positive whole number, not ${show(value)}`);
  }
}
