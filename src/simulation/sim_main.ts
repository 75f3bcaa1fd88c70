/**
 * `npm run sim`: the seeded fault campaign from the command line (issue 6).
 *
 *   npm run sim -- --seeds 1000                 seeds 1..1000
 *   npm run sim -- --seeds 200 --from 5000      seeds 5000..5199
 *   npm run sim -- --seed 42 --trace            replay seed 42, printing every simulator event
 *   npm run sim -- --seeds 2000 --sync periodic  replicas fsync every COMMITLOG_PERIODIC_SYNC_MS
 *   npm run sim -- --seeds 500 --faults crash,torn-flip,slow-fsync
 *   options: --ops N (client ops per seed), --nodes N, --sync batch|periodic (default batch),
 *            --faults SET|KIND,KIND,... (sets: all|none|net|crash|partition|disk|time; kinds: see FAULT_KINDS),
 *            --rate (add a line with simulated ms per real second),
 *            --json FILE (write the summary: configuration, sync mode, operation and fault mix)
 *
 * Prints one line per failing seed (its first violation) and a summary line;
 * with --seed, one line for the seed whatever its outcome, and every
 * violation. That output holds virtual figures only, so the same arguments
 * print the same bytes; the wall-clock rate goes on its own line and only
 * with --rate. Exits 1 when any seed fails, 2 on bad arguments.
 *
 * Planted bugs (`src/core/planted_bugs.ts`) are for tests only: nothing here turns one on.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { formatViolation } from '../check/checker.js';
import { InvalidRequestError } from '../core/errors.js';
import { DEFAULT_OPS, FAULT_KINDS, FAULT_SETS, formatSeedResult, formatSummary, parseFaults, runCampaign, type SyncMode } from './campaign.js';

/** Most seeds one invocation runs (a bound on the loop; split bigger campaigns with --from). */
const SEEDS_MAX = 1_000_000;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seeds: { type: 'string' },
      from: { type: 'string' },
      seed: { type: 'string' },
      ops: { type: 'string' },
      nodes: { type: 'string' },
      faults: { type: 'string' },
      sync: { type: 'string' },
      trace: { type: 'boolean' },
      rate: { type: 'boolean' },
      json: { type: 'string' },
    },
    strict: true,
  });
  const faults = values.faults ?? 'all';
  const kinds = parseFaults(faults);
  const sync = (values.sync ?? 'batch') as SyncMode;
  if (sync !== 'batch' && sync !== 'periodic') return usage(`--sync is batch or periodic, not ${JSON.stringify(values.sync)}`);
  const ops = integer(values.ops, 'ops', 1, 100_000);
  const nodes = integer(values.nodes, 'nodes', 3, 64);
  const single = values.seed !== undefined;
  if (values.trace === true && !single) return usage('--trace replays one seed: give --seed S');
  let seeds: number[];
  if (single) seeds = [integer(values.seed, 'seed', 0, 0xffffffff)!];
  else {
    const count = integer(values.seeds, 'seeds', 1, SEEDS_MAX) ?? 100;
    const from = integer(values.from, 'from', 0, 0xffffffff) ?? 1;
    seeds = Array.from({ length: count }, (_, i) => from + i);
  }
  const onTrace = values.trace === true ? (line: string): void => void process.stdout.write(`${line}\n`) : undefined;
  const started_ms = performance.now();
  const options = { ...(ops === undefined ? {} : { ops }), ...(nodes === undefined ? {} : { nodes }), faults: kinds, sync };
  const summary = await runCampaign({ ...options, seeds, ...(onTrace === undefined ? {} : { onTrace }) }, (result) => {
    const line = formatSeedResult(result, single);
    if (line !== null) console.log(line);
    if (single) for (const v of result.violations) console.log(`  ${formatViolation(v, result.seed)}`);
  });
  const real_ms = performance.now() - started_ms;
  console.log(formatSummary(summary));
  const rate = Math.round(summary.simulated_ms / (real_ms / 1000));
  if (values.rate === true) console.log(`rate: ${rate} simulated ms per real second (${Math.round(real_ms)} real ms)`);
  if (values.json !== undefined) {
    const record = {
      benchmark: 'sim-campaign',
      configuration: {
        seeds: summary.seeds,
        first_seed: seeds[0],
        ops_per_seed: ops ?? DEFAULT_OPS,
        nodes: nodes ?? 5,
        replication: 'N3 W2 R2 (one DC, or dc1: 2 + dc2: 1 replicas in two-DC seeds); per-request W and R vary',
        sync,
        faults,
        fault_kinds: kinds,
      },
      machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.arch()}` },
      seeds: summary.seeds,
      failed_seeds: summary.failed.map((r) => r.seed),
      violations: summary.violations,
      ops: summary.ops,
      acked: summary.acked,
      two_dc_seeds: summary.twoDcSeeds,
      op_mix: summary.opMix.ops,
      consistency_mix: Object.fromEntries(Object.entries(summary.opMix.consistency).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      fault_mix_seeds: summary.faultMix,
      simulated_ms: summary.simulated_ms,
      real_ms: Math.round(real_ms),
      simulated_ms_per_real_second: rate,
      notes: 'Convergence after heal relies on hinted handoff (hint stores drained) and read repair (r=all final reads); there is no anti-entropy yet.',
    };
    writeFileSync(values.json, `${JSON.stringify(record, null, 2)}\n`);
  }
  return summary.failed.length > 0 ? 1 : 0;
}

/** An optional integer flag in [min, max]. */
function integer(text: string | undefined, name: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} is an integer in [${min}, ${max}], not ${JSON.stringify(text)}`);
  return n;
}

class UsageError extends Error {}

function usage(problem: string): number {
  console.error(
    `sim: ${problem}\nusage: npm run sim -- [--seeds N [--from S] | --seed S [--trace]] [--ops N] [--nodes N] [--sync batch|periodic] ` +
      `[--faults ${FAULT_SETS.join('|')}|KIND,...] [--rate] [--json FILE]\nfault kinds: ${FAULT_KINDS.join(',')}`,
  );
  return 2;
}

// A reader that stops early (`| head`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const badArgs = err instanceof UsageError || err instanceof InvalidRequestError || (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'));
    if (badArgs) process.exit(usage(err.message));
    console.error(err);
    process.exit(1);
  },
);
