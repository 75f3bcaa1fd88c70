/**
 * `npm run bench:sim`: the fault campaign at scale (issue 12). First, in this
 * process, the hunt for each planted bug (src/simulation/planted_campaigns.ts):
 * the seed that caught it, or that the campaign did not reach it. Then SEEDS
 * seeds under batch sync and as many under periodic sync: one lane per sync
 * mode, side by side on the machine's cores, each running `npm run sim`
 * itself (with --json) on CHUNK_SEEDS seeds at a time. Writes
 * bench/results/sim.json after every chunk (`complete: false` until the end).
 *
 *   npm run bench:sim                  20,000 seeds per sync mode (about 40 minutes on 2 cores)
 *   npm run bench:sim -- --seeds 2000  fewer
 *   npm run bench:sim -- --quick       200 seeds per sync mode
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_OPS } from '../../src/simulation/campaign.js';
import { formatHunt, huntPlantedBug, PLANTED_BUG_SEEDS_MAX, PLANTED_CAMPAIGNS } from '../../src/simulation/planted_campaigns.js';
import { machine, REPO_ROOT, writeResults } from '../common/report.js';

const SEEDS_DEFAULT = 20_000;
const SEEDS_QUICK = 200;

/** Seeds per child run: a chunk's record is merged into the results as soon as it ends. */
const CHUNK_SEEDS = 1000;

type SimRecord = Record<string, unknown>;

/** Run `npm run sim`'s program on seeds from..from+count-1 of one sync mode; resolves with its --json record and exit code. */
function runChunk(sync: 'batch' | 'periodic', from: number, count: number, dir: string): Promise<{ record: SimRecord; exit: number }> {
  const json = join(dir, `${sync}-${from}.json`);
  const args = [join(REPO_ROOT, 'dist', 'src', 'simulation', 'sim_main.js'), '--seeds', String(count), '--from', String(from), '--sync', sync, '--json', json];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => {
      try {
        resolve({ record: JSON.parse(readFileSync(json, 'utf8')) as SimRecord, exit: code ?? 1 });
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Sum two campaign records (counts, mixes, failed seeds); the configuration is the first's, with the seed range widened. */
function mergeRecords(a: SimRecord | undefined, b: SimRecord): SimRecord {
  if (a === undefined) return b;
  const out: SimRecord = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const mine = a[key];
    if (typeof value === 'number' && typeof mine === 'number') out[key] = mine + value;
    else if (Array.isArray(value) && Array.isArray(mine)) out[key] = [...mine, ...value];
    else if (key !== 'configuration' && key !== 'machine' && value !== null && typeof value === 'object' && typeof mine === 'object' && mine !== null) {
      const sum: Record<string, number> = { ...(mine as Record<string, number>) };
      for (const [k, v] of Object.entries(value as Record<string, number>)) sum[k] = (sum[k] ?? 0) + v;
      out[key] = sum;
    }
  }
  out['configuration'] = { ...(a['configuration'] as object), seeds: out['seeds'] };
  out['simulated_ms_per_real_second'] = Math.round((out['simulated_ms'] as number) / ((out['real_ms'] as number) / 1000));
  return out;
}

/** One lane per sync mode: its chunks one after another, each merged (and the results rewritten) as it ends. */
async function runMode(sync: 'batch' | 'periodic', seeds: number, dir: string, onChunk: () => void, results: Map<string, SimRecord>): Promise<number> {
  let exit = 0;
  for (let from = 1; from <= seeds; from += CHUNK_SEEDS) {
    const count = Math.min(CHUNK_SEEDS, seeds - from + 1);
    const chunk = await runChunk(sync, from, count, dir);
    if (chunk.exit !== 0) exit = chunk.exit;
    results.set(sync, mergeRecords(results.get(sync), chunk.record));
    console.log(`sim ${sync}: seeds 1..${from + count - 1} done, ${String(results.get(sync)!['violations'])} violations`);
    onChunk();
  }
  return exit;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seeds: { type: 'string' }, quick: { type: 'boolean' } }, strict: true });
  const seeds = values.seeds !== undefined ? Number(values.seeds) : values.quick === true ? SEEDS_QUICK : SEEDS_DEFAULT;
  if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`--seeds is a positive integer, not ${values.seeds}`);
  const dir = mkdtempSync(join(os.tmpdir(), 'ringkv-bench-sim-'));
  try {
    const started = performance.now();
    const planted: Record<string, unknown>[] = [];
    for (const campaign of PLANTED_CAMPAIGNS) {
      const hunt = await huntPlantedBug(campaign, DEFAULT_OPS);
      console.log(formatHunt(hunt));
      planted.push({
        defect: campaign.name,
        bugs: campaign.bugs,
        sync: campaign.sync,
        faults: campaign.faults,
        seeds_run: hunt.summary.seeds,
        caught_at_seed: hunt.caught ? hunt.found!.seed : null,
        violation: hunt.found === undefined ? null : (hunt.found.violations[0]?.property ?? hunt.found.error ?? null),
        expected: campaign.expected,
        ...(campaign.reason === undefined ? {} : { why_not_by_the_campaign: campaign.reason }),
      });
    }
    const results = new Map<string, SimRecord>();
    // Rewritten after every chunk, so a run stopped early still leaves what it measured (complete: false).
    const write = (complete: boolean): void => {
      const batch = results.get('batch');
      const periodic = results.get('periodic');
      writeResults('sim', {
        benchmark: 'sim-campaign',
        configuration: { seeds_per_sync_mode: seeds, ops_per_seed: DEFAULT_OPS, chunk_seeds: CHUNK_SEEDS, planted_bug_seeds_max: PLANTED_BUG_SEEDS_MAX },
        machine: machine(),
        complete,
        batch_seeds: batch?.['seeds'] ?? 0,
        batch_violations: batch?.['violations'] ?? 0,
        periodic_seeds: periodic?.['seeds'] ?? 0,
        periodic_violations: periodic?.['violations'] ?? 0,
        real_ms: Math.round(performance.now() - started),
        batch: batch ?? null,
        periodic: periodic ?? null,
        planted,
      });
    };
    const exits = await Promise.all((['batch', 'periodic'] as const).map((sync) => runMode(sync, seeds, dir, () => write(false), results)));
    write(true);
    if (exits.some((code) => code !== 0)) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
