/**
 * `npm run bench:server`: issue 14's server benchmark, in one run.
 *
 * redis-benchmark drives, one at a time (an idle server takes no CPU from
 * another's measurement), each server of `servers.ts`: redis-server (if
 * installed), the two ceiling servers (Node itself; Node plus one worker
 * hop), ringkv with 1 node (N=1 W=1 R=1) and with 5 (N3 W2 R2, the
 * default) on the default worker threads (the cores but one) and on 2 and
 * 5 threads, each in its own process on a free loopback port:
 *
 *   redis-benchmark -q -c 50 -r 100000 -t <set|get> -n <requests> -P <1|16>
 *
 * Before its runs a server gets every key of the keyspace written once
 * (`prefill.ts`), so GETs find their keys on every server. The request
 * count of a run is fixed by a short calibration run of the same command
 * and depth (which also warms the server up): about TARGET_SECONDS of
 * work, rounded; `--requests N` fixes it for every run instead.
 *
 * Per run: ops/s, and the server process's CPU time from /proc per thread
 * group (main, workers, helpers; `thread_cpu.ts`) as µs per request, with
 * the GC time the JavaScript threads reported. Then the embedding API
 * figures (`embedded.ts`, own process). Ratios and issue 14's targets are
 * in `verdicts.ts`. Writes bench/results/server.json.
 *
 * Flags: --quick (short runs), --requests N, --servers key,key (of
 * redis, ceiling, ceiling_worker, ringkv_1node, ringkv_5nodes,
 * ringkv_5nodes_2threads, ringkv_5nodes_5threads),
 * --no-embedded.
 */
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, writeResults } from '../common/report.js';
import { prefill } from './prefill.js';
import { capture, removeDir, runs, stopAll, temporaryDir } from './processes.js';
import { SERVERS, type ServerKey, type ServerKind, type Target } from './servers.js';
import { cpuBetween, sampleThreads } from './thread_cpu.js';
import { printTables, ratios, targets, type EmbeddedFigures, type RunFigures, type RunName, type ServerFigures } from './verdicts.js';

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
};
const quick = argv.includes('--quick');
const fixedRequests = flag('--requests') === undefined ? undefined : Number(flag('--requests'));
const only = flag('--servers')?.split(',');

/** Concurrent client connections (-c). */
const CLIENTS = 50;
/** Keyspace of random keys (-r): ringkv orders a pipeline's requests per key, so one key would serialize them. */
const KEYSPACE = 100_000;
/** Seconds of work a measured run aims at. */
const TARGET_SECONDS = quick ? 1 : 3;
/** Requests of a calibration run, by pipeline depth. */
const CALIBRATION_REQUESTS: Record<number, number> = { 1: quick ? 1_000 : 2_000, 16: quick ? 4_000 : 8_000 };
/** Bounds of a measured run's requests. */
const MIN_REQUESTS = 5_000;
const MAX_REQUESTS = 5_000_000;
/** Longest one redis-benchmark run may take before it is killed. */
const RUN_TIMEOUT_MS = 5 * 60_000;
/** Longest the prefill of one server may take. */
const PREFILL_TIMEOUT_MS = 5 * 60_000;
/** Longest the embedding API run may take. */
const EMBEDDED_TIMEOUT_MS = 10 * 60_000;
/** Pause around a measured run, longer than the probes' write interval, so their GC figures are current. */
const SETTLE_MS = 300;

async function main(): Promise<number> {
  const startedAt = Date.now();
  const load = os.loadavg().map((x) => Number(x.toFixed(2)));
  if (!(await runs('redis-benchmark'))) {
    console.error('bench:server: redis-benchmark is not on PATH; install Debian\'s redis-tools (apt-get install -y redis-tools)');
    return 2;
  }
  const notes: string[] = [];
  const hasRedis = await runs('redis-server');
  if (!hasRedis) notes.push('redis-server is not installed (apt-get install -y redis-server): skipped, so no ratio to redis-server was measured');
  if (load[0]! > 1) notes.push(`run on a loaded machine: load average ${load.join(' ')} at start on ${os.cpus().length} CPUs; figures are lower and noisier than on an idle one`);
  const config = {
    quick,
    benchmark: `redis-benchmark -q -c ${CLIENTS} -r ${KEYSPACE} -t <set|get> -n <requests> -P <1|16>`,
    requests: fixedRequests === undefined ? `per run: ~${TARGET_SECONDS} s of the rate a calibration run of ${JSON.stringify(CALIBRATION_REQUESTS)} requests (by depth) measured, 2 significant digits` : fixedRequests,
    prefill: `every key:000000000000..${KEYSPACE - 1} SET to 'xxx' once before a server's runs, so GETs hit on every server`,
    order: 'per server: SET -P 1, GET -P 1, SET -P 16, GET -P 16; one server at a time',
    cpu: 'server process CPU from /proc/<pid>/task/*/stat over the measured run; main/workers/helpers split by thread_probe.ts (helpers: V8 platform threads, libuv pool); gc_ms = sum over the JS threads of perf_hooks gc entry durations: wall time inside GC, so an upper bound of its CPU when threads outnumber cores (GC on a descheduled thread keeps counting); concurrent marking on the V8 helper threads is in helpers_s, not in gc_ms',
    servers: Object.fromEntries(SERVERS.map((s) => [s.key, s.command])),
    embedded: '5 nodes N3 W2 R2, periodic sync, 100-byte values, own process (bench/server/embedded.ts)',
  };
  console.log('ringkv server benchmark', JSON.stringify({ config, machine: machine(), load_average: load }));

  const servers: Partial<Record<ServerKey, ServerFigures>> = {};
  let failed = false;
  for (const server of SERVERS) {
    if (only && !only.includes(server.key)) continue;
    if (server.key === 'redis' && !hasRedis) {
      console.log('  redis-server: not installed, skipped');
      continue;
    }
    servers[server.key] = await measureServer(server);
    failed ||= servers[server.key]!.error !== undefined;
  }

  let embedded: EmbeddedFigures | undefined;
  let embeddedError: string | undefined;
  if (!argv.includes('--no-embedded')) {
    console.log('  embedding API: 5 nodes N3 W2 R2, periodic sync ...');
    const dir = temporaryDir('ringkv-bench-embedded-');
    try {
      const script = join(fileURLToPath(new URL('.', import.meta.url)), 'embedded.js');
      const out = await capture(process.execPath, [script, '--dir', dir, ...(quick ? ['--quick'] : [])], EMBEDDED_TIMEOUT_MS);
      embedded = JSON.parse(/^result (.*)$/m.exec(out)![1]!) as EmbeddedFigures;
    } catch (err) {
      embeddedError = String(err instanceof Error ? err.message : err);
      failed = true;
      console.log(`  embedding API FAILED: ${embeddedError}`);
    } finally {
      removeDir(dir);
    }
  }

  const verdicts = targets(servers, embedded);
  const redisVersion = hasRedis ? (await capture('redis-server', ['--version'], 10_000)).trim() : null;
  const results = {
    measured_at: new Date(startedAt).toISOString(),
    run_seconds: Math.round((Date.now() - startedAt) / 1000),
    machine: { ...machine(), load_average_at_start: load },
    notes,
    config: { ...config, clients: CLIENTS, keyspace: KEYSPACE, redis_version: redisVersion },
    servers,
    ratios: {
      to_redis: Object.fromEntries(Object.entries(servers).map(([key, figures]) => [key, ratios(figures, servers.redis)])),
      ringkv_1node_to_ceiling: ratios(servers.ringkv_1node, servers.ceiling),
      ringkv_1node_to_ceiling_worker: ratios(servers.ringkv_1node, servers.ceiling_worker),
      ringkv_5nodes_to_ringkv_1node: ratios(servers.ringkv_5nodes, servers.ringkv_1node),
      ringkv_5nodes_2threads_to_default: ratios(servers.ringkv_5nodes_2threads, servers.ringkv_5nodes),
      ringkv_5nodes_5threads_to_default: ratios(servers.ringkv_5nodes_5threads, servers.ringkv_5nodes),
    },
    embedded: embedded ?? (embeddedError !== undefined ? { error: embeddedError } : null),
    targets: verdicts,
  };
  printTables(servers, embedded, verdicts);
  for (const note of notes) console.log(`note: ${note}`);
  writeResults('server', results);
  console.log(`bench:server took ${results.run_seconds} s`);
  return failed ? 1 : 0;
}

/** Start a server, prefill it, run every command and depth against it, stop it; a failure is recorded, not thrown. */
async function measureServer(server: ServerKind): Promise<ServerFigures> {
  const figures: ServerFigures = { label: server.label, command: server.command, runs: {} };
  console.log(`  ${server.label}: starting`);
  let target: Target | undefined;
  try {
    target = await server.start();
    const t0 = Date.now();
    await withTimeout(prefill(target.port, KEYSPACE), PREFILL_TIMEOUT_MS, 'prefill');
    figures.prefill_s = Number(((Date.now() - t0) / 1000).toFixed(1));
    for (const run of ['set_p1', 'get_p1', 'set_p16', 'get_p16'] as const satisfies readonly RunName[]) {
      figures.runs[run] = await measureRun(target, run);
      const r = figures.runs[run]!;
      const cpu = r.cpu_us_per_request === null ? '' : `, ${r.cpu_us_per_request} µs CPU/request`;
      console.log(`  ${server.label}: ${run} ${Math.round(r.ops_per_s)} ops/s (${r.requests} requests, ${r.seconds} s${cpu})`);
    }
  } catch (err) {
    figures.error = err instanceof Error ? err.message : String(err);
    console.log(`  ${server.label}: FAILED: ${figures.error}`);
  } finally {
    await target?.stop();
  }
  return figures;
}

/** One measured redis-benchmark run (after a calibration run unless --requests). */
async function measureRun(target: Target, run: RunName): Promise<RunFigures> {
  const command = run.startsWith('set') ? 'set' : 'get';
  const depth = Number(run.split('_p')[1]);
  let requests = fixedRequests;
  if (requests === undefined) {
    const calibration = await benchmark(target.port, command, depth, CALIBRATION_REQUESTS[depth]!);
    requests = Math.min(MAX_REQUESTS, Math.max(MIN_REQUESTS, Number((calibration * TARGET_SECONDS).toPrecision(2))));
  }
  await sleep(SETTLE_MS);
  const before = sampleThreads(target.pid, target.probeDir);
  const ops_per_s = await benchmark(target.port, command, depth, requests);
  await sleep(SETTLE_MS);
  const after = sampleThreads(target.pid, target.probeDir);
  const cpu = before.size > 0 && after.size > 0 ? cpuBetween(before, after, target.probeDir !== undefined) : null;
  if (cpu) for (const k of ['total_s', 'main_s', 'workers_s', 'helpers_s', 'gc_ms'] as const) if (cpu[k] !== null) cpu[k] = Number(cpu[k].toFixed(2));
  return {
    ops_per_s,
    requests,
    seconds: Number((requests / ops_per_s).toFixed(2)),
    cpu,
    cpu_us_per_request: cpu ? Number(((cpu.total_s * 1e6) / requests).toFixed(1)) : null,
  };
}

/** Requests/s of one redis-benchmark run of `command`. */
async function benchmark(port: number, command: 'set' | 'get', depth: number, requests: number): Promise<number> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-q', '-t', command, '-c', String(CLIENTS), '-n', String(requests), '-r', String(KEYSPACE), '-P', String(depth)];
  const output = await capture('redis-benchmark', args, RUN_TIMEOUT_MS);
  // -q prints progress lines ending in \r, then "SET: 12345.67 requests per second, ...".
  const match = new RegExp(`^${command.toUpperCase()}: ([\\d.]+) requests per second`, 'm').exec(output.replace(/\r/g, '\n'));
  if (!match) throw new Error(`redis-benchmark printed no ${command.toUpperCase()} figure:\n${output.slice(-2000)}`);
  return Number(match[1]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

// Whatever happens, no server outlives the benchmark.
process.on('exit', stopAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopAll();
    process.exit(130);
  });
}
process.on('uncaughtException', (err) => {
  console.error(err);
  stopAll();
  process.exit(1);
});

process.exitCode = await main();
