/**
 * `npm run bench:multiprocess`: issue 16's cross-process figure. Three
 * nodes (N3 W2 R2, periodic sync as bench:server) run two ways, one after
 * the other in the same run, and redis-benchmark SETs against each:
 *
 *   one process    `ringkv start --nodes 3`: the nodes talk through
 *                  SharedArrayBuffer rings; one redis-benchmark of -c 48
 *   three processes `ringkv start --nodes 1 --node-id pX --listen ...
 *                  --seeds ...` on loopback: the nodes talk over TCP peer
 *                  links; three redis-benchmarks of -c 16 at once, one per
 *                  process (each process's own node coordinates)
 *
 * at depth 1 and 16, with the ops/s of the three-process runs summed, and
 * the ratio three-processes / one-process. Each process gets one worker
 * thread, so both shapes run three node threads plus main threads on the
 * machine. Writes bench/results/multiprocess.json.
 *
 * Flags: --quick (fewer requests).
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { machine, writeResults } from '../common/report.js';
import { capture, freePort, launch, removeDir, stop, stopAll, temporaryDir, waitForLine } from '../server/processes.js';

const quick = process.argv.includes('--quick');
const CLI = fileURLToPath(new URL('../../src/cli/cli.js', import.meta.url));
const SECRET = 'bench secret, sixteen bytes or more';
/** Requests per run, per depth (split evenly between the three benchmarks when there are three). */
const REQUESTS: Record<number, number> = quick ? { 1: 15_000, 16: 60_000 } : { 1: 60_000, 16: 240_000 };
const CLIENTS = 48;
const KEYSPACE = 100_000;
const FLAGS = ['--n', '3', '--w', '2', '--r', '2', '--sync', 'periodic', '--threads', '1', '--resp-port', '0', '--http-port', '0'];

interface Server {
  ports: number[];
  stop(): Promise<void>;
}

async function oneProcess(): Promise<Server> {
  const dir = temporaryDir('ringkv-bench-mp1-');
  const child = launch(process.execPath, [CLI, 'start', '--nodes', '3', '--data-dir', dir, ...FLAGS]);
  const match = await waitForLine(child, /resp listening on [^\s]+:(\d+)[\s\S]*running;/);
  return {
    ports: [Number(match[1])],
    stop: async () => {
      await stop(child);
      removeDir(dir);
    },
  };
}

async function threeProcesses(): Promise<Server> {
  const dir = temporaryDir('ringkv-bench-mp3-');
  const peers = [await freePort(), await freePort(), await freePort()];
  const seeds = peers.map((p) => `127.0.0.1:${p}`).join(',');
  const children = peers.map((port, i) =>
    launch(process.execPath, [CLI, 'start', '--node-id', `p${i}`, '--listen', `127.0.0.1:${port}`, '--seeds', seeds, '--data-dir', `${dir}/p${i}`, ...FLAGS], {
      env: { ...process.env, RINGKV_CLUSTER_SECRET: SECRET },
    }),
  );
  const matches = await Promise.all(children.map((child) => waitForLine(child, /resp listening on [^\s]+:(\d+)[\s\S]*running;/)));
  return {
    ports: matches.map((m) => Number(m[1])),
    stop: async () => {
      await Promise.all(children.map(stop));
      removeDir(dir);
    },
  };
}

/** Ops/s of SETs at `depth`, summed over one redis-benchmark per port, run at once. */
async function setRate(ports: number[], depth: number): Promise<number> {
  const each = Math.round(REQUESTS[depth]! / ports.length);
  const outputs = await Promise.all(
    ports.map((port) =>
      capture('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-q', '-c', String(CLIENTS / ports.length), '-r', String(KEYSPACE), '-t', 'set', '-n', String(each), '-P', String(depth)], 600_000),
    ),
  );
  return outputs.reduce((sum, out) => {
    const match = /SET: ([\d.]+) requests per second/.exec(out.replace(/\r/g, '\n'));
    if (!match) throw new Error(`no rate in redis-benchmark's output: ${out.slice(-500)}`);
    return sum + Number(match[1]);
  }, 0);
}

async function measure(start: () => Promise<Server>): Promise<Record<string, number>> {
  const server = await start();
  try {
    await setRate(server.ports, 16); // warm-up, and every process's links and detectors settled
    return { set_p1: await setRate(server.ports, 1), set_p16: await setRate(server.ports, 16) };
  } finally {
    await server.stop();
  }
}

process.on('exit', stopAll);
const one = await measure(oneProcess);
const three = await measure(threeProcesses);
const ratio = { set_p1: three.set_p1! / one.set_p1!, set_p16: three.set_p16! / one.set_p16! };
console.log(`3 nodes, N3 W2 R2, periodic sync, ${os.availableParallelism()} cores`);
console.log(`  one process:     SET -P 1 ${Math.round(one.set_p1!)}/s   SET -P 16 ${Math.round(one.set_p16!)}/s`);
console.log(`  three processes: SET -P 1 ${Math.round(three.set_p1!)}/s   SET -P 16 ${Math.round(three.set_p16!)}/s`);
console.log(`  ratio (three / one): -P 1 ${ratio.set_p1.toFixed(2)}x   -P 16 ${ratio.set_p16.toFixed(2)}x`);
writeResults('multiprocess', {
  machine: machine(),
  quick,
  shape: { nodes: 3, n: 3, w: 2, r: 2, sync: 'periodic', threads_per_process: 1, clients: CLIENTS, keyspace: KEYSPACE },
  one_process_ops_per_s: one,
  three_processes_ops_per_s: three,
  ratio_three_over_one: ratio,
});
