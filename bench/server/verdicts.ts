/**
 * What `npm run bench:server` concludes from its figures: ratios (every
 * server to redis-server in the same run, ringkv's single node to the
 * ceiling servers), issue 14's targets with met / not met, and the
 * readable tables it prints.
 */
import type { RunCpu } from './thread_cpu.js';
import type { ServerKey } from './servers.js';

export const RUN_NAMES = ['set_p1', 'set_p16', 'get_p1', 'get_p16'] as const;
export type RunName = (typeof RUN_NAMES)[number];

/** One redis-benchmark run against one server. */
export interface RunFigures {
  ops_per_s: number;
  requests: number;
  seconds: number;
  cpu: RunCpu | null;
  /** CPU µs of the server process (all threads) per request. */
  cpu_us_per_request: number | null;
}

export interface ServerFigures {
  label: string;
  command: string;
  runs: Partial<Record<RunName, RunFigures>>;
  prefill_s?: number;
  error?: string;
}

/** The embedding API figures (`embedded.ts`). */
export interface EmbeddedFigures {
  put_p50_us: number;
  put_p99_us: number;
  get_p50_us: number;
  get_p99_us: number;
  puts_per_s_in_flight: number;
  cpu_us_per_put_in_flight: number;
  [more: string]: number;
}

export interface Target {
  target: string;
  measured: number | null;
  want: string;
  met: boolean | null;
}

type Ratios = Partial<Record<RunName, number>>;

const round3 = (x: number): number => Number(x.toPrecision(3));

/** `a`'s ops/s over `b`'s for every run both have. */
export function ratios(a: ServerFigures | undefined, b: ServerFigures | undefined): Ratios {
  const out: Ratios = {};
  for (const run of RUN_NAMES) {
    const x = a?.runs[run]?.ops_per_s;
    const y = b?.runs[run]?.ops_per_s;
    if (x !== undefined && y !== undefined && y > 0) out[run] = round3(x / y);
  }
  return out;
}

/** Issue 14's targets against this run's figures (null when a figure is missing). */
export function targets(servers: Partial<Record<ServerKey, ServerFigures>>, embedded: EmbeddedFigures | undefined): Target[] {
  const out: Target[] = [];
  const check = (target: string, measured: number | undefined | null, want: string, ok: (x: number) => boolean): void => {
    const has = measured !== undefined && measured !== null && Number.isFinite(measured);
    out.push({ target, measured: has ? measured : null, want, met: has ? ok(measured) : null });
  };
  const toRedis = ratios(servers.ringkv_5nodes, servers.redis);
  for (const run of RUN_NAMES) {
    const floor = run.endsWith('_p1') ? 0.15 : 0.1;
    check(`5 nodes N3W2R2 ${label(run)} / redis-server`, toRedis[run], `>= ${floor}`, (x) => x >= floor);
  }
  const toCeiling = ratios(servers.ringkv_1node, servers.ceiling);
  for (const run of RUN_NAMES) check(`1 node N=1 ${label(run)} / ceiling`, toCeiling[run], '>= 0.5', (x) => x >= 0.5);
  check('embedded 5 nodes: sequential put p50 (µs)', embedded?.put_p50_us, '<= 300', (x) => x <= 300);
  check('embedded 5 nodes: sequential get p50 (µs)', embedded?.get_p50_us, '<= 150', (x) => x <= 150);
  check('embedded 5 nodes: puts/s, 64 in flight', embedded?.puts_per_s_in_flight, '>= 50000', (x) => x >= 50_000);
  for (const run of ['set_p1', 'set_p16'] as const) {
    const cpu = servers.ringkv_5nodes?.runs[run]?.cpu;
    const share = cpu && cpu.gc_ms !== null && cpu.total_s > 0 ? round3(cpu.gc_ms / 1000 / cpu.total_s) : undefined;
    check(`5 nodes ${label(run)}: GC time / CPU time`, share, '<= 0.1', (x) => x <= 0.1);
  }
  return out;
}

/** "SET -P 16" for "set_p16". */
export function label(run: RunName): string {
  const [command, depth] = run.split('_p') as [string, string];
  return `${command.toUpperCase()} -P ${depth}`;
}

/** The tables printed at the end of a run. */
export function printTables(servers: Partial<Record<ServerKey, ServerFigures>>, embedded: EmbeddedFigures | undefined, verdicts: Target[]): void {
  const redis = servers.redis;
  const width = Math.max(...Object.values(servers).map((s) => s.label.length), 10);
  const cell = (text: string): string => text.padStart(19);
  console.log(`\n${'ops/s (x redis-server)'.padEnd(width)}${RUN_NAMES.map((r) => cell(label(r))).join('')}`);
  for (const figures of Object.values(servers)) {
    const toRedis = ratios(figures, redis);
    const cells = RUN_NAMES.map((run) => {
      const ops = figures.runs[run]?.ops_per_s;
      if (ops === undefined) return cell('-');
      return cell(`${(ops / 1000).toFixed(1)}k${toRedis[run] !== undefined ? ` (${toRedis[run]!.toFixed(3)}x)` : ''}`);
    });
    console.log(`${figures.label.padEnd(width)}${cells.join('')}${figures.error ? `  FAILED: ${figures.error.split('\n')[0]}` : ''}`);
  }
  const wide = (text: string): string => text.padStart(27);
  console.log(`\nserver CPU µs/request, % of it in main/workers/helpers threads, GC time (wall, JS threads) as % of CPU time`);
  console.log(`${''.padEnd(width)}${RUN_NAMES.map((r) => wide(label(r))).join('')}`);
  for (const figures of Object.values(servers)) {
    const cells = RUN_NAMES.map((run) => {
      const r = figures.runs[run];
      if (!r?.cpu || r.cpu_us_per_request === null || r.cpu.total_s <= 0) return wide('-');
      const share = (s: number): string => String(Math.round((s / r.cpu!.total_s) * 100));
      const gc = r.cpu.gc_ms === null ? '' : ` gc ${share(r.cpu.gc_ms / 1000)}%`;
      return wide(`${r.cpu_us_per_request.toFixed(1)} ${share(r.cpu.main_s)}/${share(r.cpu.workers_s)}/${share(r.cpu.helpers_s)}%${gc}`);
    });
    console.log(`${figures.label.padEnd(width)}${cells.join('')}`);
  }
  if (embedded) {
    console.log(
      `\nembedded 5 nodes N3W2R2 periodic: put p50 ${embedded.put_p50_us} µs (p99 ${embedded.put_p99_us}), get p50 ${embedded.get_p50_us} µs (p99 ${embedded.get_p99_us}), ` +
        `${embedded.puts_per_s_in_flight} puts/s with 64 in flight, ${embedded.cpu_us_per_put_in_flight} µs CPU per put`,
    );
  }
  console.log('\nissue 14 targets');
  const tw = Math.max(...verdicts.map((v) => v.target.length));
  for (const v of verdicts) {
    const verdict = v.met === null ? 'not measured' : v.met ? 'met' : 'NOT met';
    console.log(`  ${v.target.padEnd(tw)}  ${String(v.measured ?? '-').padStart(9)}  want ${v.want.padEnd(8)} ${verdict}`);
  }
}
