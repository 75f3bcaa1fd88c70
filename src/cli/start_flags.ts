/**
 * `ringkv start`'s flags, read and checked all together before anything
 * starts: each flag's syntax here, then the cluster's options through the
 * one check `openCluster` runs (`cluster_options_check.ts`), with options
 * named by their flags. Every problem is reported, not only the first, so
 * `--w 4 --n 3 --resp-port 99999` gets three lines and exit 1.
 *
 * Pure: no I/O. Safe from any thread.
 */
import { isLoopbackBind } from '../server/protected_mode.js';
import type { Requirement } from '../core/consistency.js';
import { CONSISTENCY_LEVELS } from '../core/consistency.js';
import { clusterOptionProblems, type OptionNames } from '../cluster/cluster_options_check.js';
import type { PeersOptions } from '../cluster/cluster_types.js';
import { CLUSTER_SECRET_MIN_BYTES } from '../core/limits.js';

/** The flags as commander hands them over: text as typed, or the default. */
export interface StartFlags {
  nodes: string | number;
  threads?: string;
  dataDir: string;
  respPort: string | number;
  httpPort: string | number;
  bind: string;
  n?: string;
  w?: string;
  r?: string;
  password?: string;
  protectedMode: string;
  sync: string;
  antiEntropy: string;
  nodeId?: string;
  listen?: string;
  seeds?: string;
  /** The cluster secret, read by the caller from --cluster-secret-file or RINGKV_CLUSTER_SECRET. */
  clusterSecret?: string;
}

/** The flags read and checked. */
export interface StartSettings {
  nodes: number;
  /** Worker threads (absent: the cluster's default, one per core). */
  threads?: number;
  dataDir: string;
  respPort: number;
  httpPort: number;
  bind: string;
  n?: number;
  w?: Requirement;
  r?: Requirement;
  password?: string;
  /** Refuse to listen beyond loopback without a password (protected_mode.ts). */
  protectedMode: boolean;
  sync: 'batch' | 'periodic';
  /** Active anti-entropy (issue 15). */
  antiEntropy: boolean;
  /** The ids of this process's nodes (--node-id). */
  nodeIds?: string[];
  /** Across processes (--listen, --seeds and the cluster secret). */
  peers?: PeersOptions;
}

/** Cluster options named by the flags that set them. */
export const FLAG_NAMES: OptionNames = (field) => {
  switch (field) {
    case 'nodes':
      return '--nodes';
    case 'dataDir':
      return '--data-dir';
    case 'replication.n':
      return '--n';
    case 'replication.w':
      return '--w';
    case 'replication.r':
      return '--r';
    case 'syncMode':
      return '--sync';
    case 'threads':
      return '--threads';
    // No flag sets these; the embedding API does.
    case 'replication.dcs':
    case 'replication.strict':
    case 'requestTimeoutMs':
    case 'antiEntropy':
    case 'transfers':
      return field;
    case 'peers.listen':
      return '--listen';
    case 'peers.seeds':
      return '--seeds';
    case 'peers.secret':
      return 'the cluster secret (RINGKV_CLUSTER_SECRET or --cluster-secret-file)';
  }
};

/** Read and check `flags`: the settings, or every problem found. */
export function readStartFlags(flags: StartFlags): { ok: true; settings: StartSettings } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const nodes = wholeNumber(flags.nodes, '--nodes', "a node count", problems);
  const threads = flags.threads === undefined ? undefined : wholeNumber(flags.threads, '--threads', 'a worker-thread count', problems);
  const n = flags.n === undefined ? undefined : wholeNumber(flags.n, '--n', 'a replica count per key', problems);
  const w = flags.w === undefined ? undefined : requirement(flags.w, '--w', problems);
  const r = flags.r === undefined ? undefined : requirement(flags.r, '--r', problems);
  const respPort = port(flags.respPort, '--resp-port', problems);
  const httpPort = port(flags.httpPort, '--http-port', problems);
  if (respPort !== null && respPort === httpPort && respPort !== 0) {
    problems.push(`--resp-port and --http-port are both ${respPort}: RESP and HTTP each need their own port`);
  }
  if (flags.bind.trim() === '') problems.push('--bind is empty: give an address of this machine, e.g. 127.0.0.1 or 0.0.0.0');
  const protectedMode = flags.protectedMode === 'yes' ? true : flags.protectedMode === 'no' ? false : null;
  if (protectedMode === null) problems.push(`--protected-mode ${JSON.stringify(flags.protectedMode)}: expected yes or no`);
  else if (protectedMode && flags.bind.trim() !== '' && !isLoopbackBind(flags.bind) && flags.password === undefined) {
    problems.push(
      `--bind ${flags.bind} without --password: protected mode refuses to listen beyond this machine without a password (anyone who reaches it could read and write every key); give --password, bind 127.0.0.1, or pass --protected-mode no if a firewall guards the ports`,
    );
  }
  const nodeIds = flags.nodeId?.split(',').map((id) => id.trim());
  if (nodeIds !== undefined && nodes !== null && typeof flags.nodes === 'string' && nodes !== nodeIds.length) {
    problems.push(`--nodes ${nodes} with --node-id ${flags.nodeId}: give one id per node (or leave --nodes out)`);
  }
  let peers: PeersOptions | undefined;
  if (flags.listen !== undefined) {
    peers = { listen: flags.listen, seeds: (flags.seeds ?? flags.listen).split(',').map((seed) => seed.trim()), secret: flags.clusterSecret ?? '' };
    if (flags.clusterSecret === undefined) problems.push('--listen without a cluster secret: set RINGKV_CLUSTER_SECRET or give --cluster-secret-file, the same in every process');
  } else if (flags.seeds !== undefined) {
    problems.push('--seeds without --listen: a process of a multi-process cluster listens for its peers; give --listen host:port');
  }
  const antiEntropy = flags.antiEntropy === 'on' ? true : flags.antiEntropy === 'off' ? false : null;
  if (antiEntropy === null) problems.push(`--anti-entropy ${JSON.stringify(flags.antiEntropy)}: expected on or off`);
  if (nodes !== null) {
    problems.push(
      ...clusterOptionProblems(
        {
          nodes: nodeIds !== undefined ? nodeIds.map((id) => ({ id })) : nodes,
          dataDir: flags.dataDir,
          // A missing secret was reported above, once: the check sees a stand-in long enough to pass.
          ...(peers !== undefined ? { peers: flags.clusterSecret !== undefined ? peers : { ...peers, secret: '-'.repeat(CLUSTER_SECRET_MIN_BYTES) } } : {}),
          syncMode: flags.sync as StartSettings['sync'],
          ...(threads !== undefined && threads !== null ? { threads } : {}),
          replication: {
            ...(n !== undefined && n !== null ? { n } : {}),
            ...(w !== undefined && w !== null ? { w } : {}),
            ...(r !== undefined && r !== null ? { r } : {}),
          },
        },
        FLAG_NAMES,
      ),
    );
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    settings: {
      nodes: nodeIds?.length ?? nodes!,
      dataDir: flags.dataDir,
      respPort: respPort!,
      httpPort: httpPort!,
      bind: flags.bind,
      protectedMode: protectedMode!,
      sync: flags.sync as StartSettings['sync'],
      antiEntropy: antiEntropy!,
      ...(threads !== undefined ? { threads: threads! } : {}),
      ...(n !== undefined ? { n: n! } : {}),
      ...(w !== undefined ? { w: w! } : {}),
      ...(r !== undefined ? { r: r! } : {}),
      ...(flags.password !== undefined ? { password: flags.password } : {}),
      ...(nodeIds !== undefined ? { nodeIds } : {}),
      ...(peers !== undefined ? { peers } : {}),
    },
  };
}

/** A whole number (its range is the cluster check's), or null with a problem added. */
function wholeNumber(text: string | number, flag: string, what: string, problems: string[]): number | null {
  if (typeof text === 'number') return text;
  if (/^\d{1,15}$/.test(text)) return Number(text);
  problems.push(`${flag} ${JSON.stringify(text)}: expected ${what}, a whole number`);
  return null;
}

function requirement(text: string, flag: string, problems: string[]): Requirement | null {
  if (/^\d{1,15}$/.test(text)) return Number(text);
  if ((CONSISTENCY_LEVELS as readonly string[]).includes(text)) return text as Requirement;
  problems.push(`${flag} ${JSON.stringify(text)}: expected a count (1, 2, ...) or one of ${CONSISTENCY_LEVELS.join(', ')}`);
  return null;
}

function port(text: string | number, flag: string, problems: string[]): number | null {
  const value = typeof text === 'number' ? text : /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (Number.isInteger(value) && value >= 0 && value <= 65535) return value;
  problems.push(`${flag} ${JSON.stringify(String(text))}: expected a port number 0..65535 (0 picks a free one)`);
  return null;
}
