/**
 * `npm run bench:server` (`--quick` for a short run): ringkv's RESP server
 * against a redis-server on the same machine, both driven by
 * redis-benchmark with the same arguments:
 *
 *   redis-benchmark -q -t set,get -c 50 -n 50000 -r 100000 -P 1
 *   redis-benchmark -q -t set,get -c 50 -n 50000 -r 100000 -P 16
 *
 * ringkv runs as `ringkv start` in its own process (5 nodes on worker
 * threads, N=3 W=2 R=2, periodic commit-log sync, a temporary data
 * directory, a free port); redis-server runs with `--save '' --appendonly
 * no` (memory only). One server runs at a time, so an idle one does not
 * take CPU from the other's measurement.
 *
 * `-r 100000` gives random keys: ringkv orders requests per key within a
 * connection's pipeline, so redis-benchmark's default single key would
 * serialize every pipelined request and measure that alone.
 *
 * Writes bench/results/server.json: requests/s per server, command and
 * pipeline depth, and ringkv/redis ratios.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, writeResults } from '../common/report.js';

const quick = process.argv.includes('--quick');
/** Requests per redis-benchmark test. */
const REQUESTS = quick ? 10_000 : 50_000;
/** Concurrent client connections. */
const CLIENTS = 50;
/** Keyspace of random keys (-r). */
const KEYSPACE = 100_000;
/** Pipeline depths measured. */
const PIPELINES = [1, 16] as const;
/** ringkv's cluster shape. */
const RINGKV = { nodes: 5, n: 3, w: 2, r: 2, sync: 'periodic' } as const;
/** Longest a server may take to start listening. */
const START_TIMEOUT_MS = 60_000;
/** Longest one redis-benchmark run may take. */
const BENCHMARK_TIMEOUT_MS = 10 * 60_000;

/** Requests/s of each command of one run. */
type Throughput = Record<'SET' | 'GET', number>;

async function main(): Promise<number> {
  for (const tool of ['redis-server', 'redis-benchmark']) {
    if (!(await runs(tool))) {
      console.error(`bench:server: ${tool} is not on PATH; install Debian's redis-server and redis-tools`);
      return 2;
    }
  }
  const config = {
    quick,
    benchmark: `redis-benchmark -q -t set,get -c ${CLIENTS} -n ${REQUESTS} -r ${KEYSPACE} -P <1|16>`,
    random_keys: `-r ${KEYSPACE}: random keys, so ringkv's per-key ordering of a pipeline does not serialize every request on one key`,
    ringkv: `ringkv start --nodes ${RINGKV.nodes} --n ${RINGKV.n} --w ${RINGKV.w} --r ${RINGKV.r} --sync ${RINGKV.sync} (own process, temporary data directory)`,
    redis: "redis-server --save '' --appendonly no (memory only, own process)",
    note: 'both servers and redis-benchmark share this machine; one server runs at a time',
  };
  console.log('ringkv server benchmark', JSON.stringify({ config, machine: machine() }));

  const redisVersion = (await capture('redis-server', ['--version'])).trim();
  const redis = await measure('redis', startRedis);
  const ringkv = await measure('ringkv', startRingkv);

  const results: Record<string, unknown> = {};
  for (const pipeline of PIPELINES) {
    for (const command of ['SET', 'GET'] as const) {
      const ours = ringkv[pipeline]![command];
      const theirs = redis[pipeline]![command];
      const name = `${command.toLowerCase()}_p${pipeline}`;
      results[`ringkv_${name}_rps`] = ours;
      results[`redis_${name}_rps`] = theirs;
      results[`ratio_${name}_ringkv_over_redis`] = Number((ours / theirs).toPrecision(3));
    }
  }
  results['config'] = { ...config, redis_version: redisVersion, requests: REQUESTS, clients: CLIENTS, keyspace: KEYSPACE, pipelines: PIPELINES };
  results['machine'] = machine();
  results['measured_at'] = new Date().toISOString();
  writeResults('server', results);
  return 0;
}

/** A running server under test. */
interface Target {
  port: number;
  stop(): Promise<void>;
}

/** Start a server, run every pipeline depth against it, stop it. */
async function measure(name: string, startTarget: () => Promise<Target>): Promise<Record<number, Throughput>> {
  const target = await startTarget();
  try {
    const byPipeline: Record<number, Throughput> = {};
    for (const pipeline of PIPELINES) {
      const args = ['-h', '127.0.0.1', '-p', String(target.port), '-q', '-t', 'set,get', '-c', String(CLIENTS), '-n', String(REQUESTS), '-r', String(KEYSPACE), '-P', String(pipeline)];
      const output = await capture('redis-benchmark', args, BENCHMARK_TIMEOUT_MS);
      byPipeline[pipeline] = parseBenchmark(output);
      console.log(`  ${name.padEnd(6)} -P ${String(pipeline).padEnd(2)}  SET ${byPipeline[pipeline]!.SET.toFixed(0)} req/s   GET ${byPipeline[pipeline]!.GET.toFixed(0)} req/s`);
    }
    return byPipeline;
  } finally {
    await target.stop();
  }
}

/** SET and GET requests/s from `redis-benchmark -q` output (progress lines end in \r). */
function parseBenchmark(output: string): Throughput {
  const found: Partial<Throughput> = {};
  for (const line of output.split(/[\r\n]+/)) {
    const match = /^(SET|GET): ([\d.]+) requests per second/.exec(line.trim());
    if (match) found[match[1] as 'SET' | 'GET'] = Number(match[2]);
  }
  if (found.SET === undefined || found.GET === undefined) throw new Error(`redis-benchmark printed no SET/GET figures:\n${output}`);
  return { SET: found.SET, GET: found.GET };
}

async function startRedis(): Promise<Target> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitForLine(child, /Ready to accept connections/);
  return { port, stop: () => stop(child) };
}

async function startRingkv(): Promise<Target> {
  const dir = await mkdtemp(join(os.tmpdir(), 'ringkv-bench-server-'));
  const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
  const args = ['start', '--data-dir', dir, '--resp-port', '0', '--http-port', '0', '--nodes', String(RINGKV.nodes), '--n', String(RINGKV.n), '--w', String(RINGKV.w), '--r', String(RINGKV.r), '--sync', RINGKV.sync];
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const line = await waitForLine(child, /^resp listening on [^ ]+:(\d+)/m);
  const port = Number(/:(\d+)/.exec(line)![1]);
  return {
    port,
    stop: async () => {
      await stop(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolve with the output so far once `pattern` appears on the child's stdout; reject if it exits first or takes too long. */
function waitForLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const onData = (d: Buffer): void => {
      output += d.toString();
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[0]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before ${pattern}:\n${output}`));
    });
  });
}

/** SIGTERM the child and wait for it to exit. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** A port free now (the OS picks it; a race with another process is possible but unlikely). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether `tool --version` runs. */
async function runs(tool: string): Promise<boolean> {
  return capture(tool, ['--version']).then(
    () => true,
    () => false,
  );
}

/** Run `tool` to completion and resolve with its stdout; reject on failure or after `timeout_ms`. */
function capture(tool: string, args: string[], timeout_ms = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeout_ms });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${tool} ${args.join(' ')} exited ${code}: ${stderr}`))));
  });
}

process.exitCode = await main();
