/**
 * The servers `npm run bench:server` measures, each started in its own
 * process on a free loopback port and stopped after its runs:
 * redis-server (memory only), the two ceiling servers (`ceiling.ts`,
 * `ceiling_worker.ts`), and `ringkv start` with one node (N=1 W=1 R=1) and
 * with five (N3 W2 R2, the default), periodic commit-log sync, in a
 * temporary data directory. The Node servers run with `thread_probe.ts`
 * preloaded so their CPU can be split by thread group.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workerThreads } from '../../src/cluster/cluster.js';
import { freePort, launch, removeDir, stop, temporaryDir, waitForLine } from './processes.js';

/** A running server under test. */
export interface Target {
  pid: number;
  port: number;
  /** Where its thread probes write (Node servers only). */
  probeDir?: string;
  stop(): Promise<void>;
}

/** A server the benchmark knows how to start. */
export interface ServerKind {
  key: ServerKey;
  label: string;
  /** How it is run, for the results file. */
  command: string;
  start(): Promise<Target>;
}

export type ServerKey = 'redis' | 'ceiling' | 'ceiling_worker' | 'ringkv_1node' | 'ringkv_5nodes' | 'ringkv_5nodes_2threads' | 'ringkv_5nodes_5threads';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const PROBE = join(HERE, 'thread_probe.js');
const CLI = fileURLToPath(new URL('../../src/cli/cli.js', import.meta.url));

/**
 * ringkv's shapes: 1 node, and 5 nodes on the default worker threads (the
 * cores but one: 1 on this 2-core machine) and on 2 and 5 threads (issue
 * 14: measure 5 nodes on 1, 2 and 5 threads).
 */
const RINGKV_SHAPES: Record<'ringkv_1node' | 'ringkv_5nodes' | 'ringkv_5nodes_2threads' | 'ringkv_5nodes_5threads', { nodes: number; n: number; w: number; r: number; threads?: number }> = {
  ringkv_1node: { nodes: 1, n: 1, w: 1, r: 1 },
  ringkv_5nodes: { nodes: 5, n: 3, w: 2, r: 2 },
  ringkv_5nodes_2threads: { nodes: 5, n: 3, w: 2, r: 2, threads: 2 },
  ringkv_5nodes_5threads: { nodes: 5, n: 3, w: 2, r: 2, threads: 5 },
};
const RINGKV_SYNC = 'periodic';

export const SERVERS: readonly ServerKind[] = [
  {
    key: 'redis',
    label: 'redis-server',
    command: "redis-server --save '' --appendonly no (memory only)",
    start: startRedis,
  },
  {
    key: 'ceiling',
    label: 'ceiling: 1-thread Node RESP + Map',
    command: 'node dist/bench/server/ceiling.js',
    start: () => startNode('ceiling', join(HERE, 'ceiling.js'), ['0'], /listening on [^\s]+:(\d+)/),
  },
  {
    key: 'ceiling_worker',
    label: 'ceiling + 1 worker (postMessage/read)',
    command: 'node dist/bench/server/ceiling_worker.js',
    start: () => startNode('ceiling_worker', join(HERE, 'ceiling_worker.js'), ['0'], /listening on [^\s]+:(\d+)/),
  },
  ...(['ringkv_1node', 'ringkv_5nodes', 'ringkv_5nodes_2threads', 'ringkv_5nodes_5threads'] as const).map((key): ServerKind => {
    const { nodes, n, w, r, threads } = RINGKV_SHAPES[key];
    const flags = ['--nodes', String(nodes), '--n', String(n), '--w', String(w), '--r', String(r), '--sync', RINGKV_SYNC, ...(threads !== undefined ? ['--threads', String(threads)] : [])];
    const onThreads = threads === undefined ? (nodes > 1 ? `, ${workerThreads(undefined, nodes)} thread(s) (default)` : '') : `, ${threads} thread${threads === 1 ? '' : 's'}`;
    return {
      key,
      label: `ringkv ${nodes} node${nodes === 1 ? '' : 's'} N${n} W${w} R${r}${onThreads}`,
      command: `ringkv start ${flags.join(' ')} --resp-port 0 --http-port 0 --data-dir <temporary>`,
      start: () => startRingkv(key, flags),
    };
  }),
];

async function startRedis(): Promise<Target> {
  const port = await freePort();
  const child = launch('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  try {
    await waitForLine(child, /Ready to accept connections/);
  } catch (err) {
    await stop(child);
    throw err;
  }
  return { pid: child.pid!, port, stop: () => stop(child) };
}

/** Start `node --require thread_probe.js <script> ...args` and read its port from `pattern`. */
async function startNode(name: string, script: string, args: string[], pattern: RegExp, cleanup?: () => void): Promise<Target> {
  const probeDir = temporaryDir(`ringkv-bench-probe-${name}-`);
  const child = launch(process.execPath, ['--require', PROBE, script, ...args], { env: { ...process.env, RINGKV_BENCH_PROBE_DIR: probeDir } });
  const stopAndClean = async (): Promise<void> => {
    await stop(child);
    removeDir(probeDir);
    cleanup?.();
  };
  try {
    const match = await waitForLine(child, pattern);
    return { pid: child.pid!, port: Number(match[1]), probeDir, stop: stopAndClean };
  } catch (err) {
    await stopAndClean();
    throw err;
  }
}

async function startRingkv(key: string, flags: string[]): Promise<Target> {
  const dataDir = temporaryDir(`ringkv-bench-${key}-`);
  const args = ['start', '--data-dir', dataDir, '--resp-port', '0', '--http-port', '0', ...flags];
  return startNode(key, CLI, args, /resp listening on [^\s]+:(\d+)/, () => removeDir(dataDir));
}
