/**
 * `npm run bench:sim`: the fault campaign at scale (issue 12) — SEEDS seeds
 * under batch sync and as many under periodic sync, one child process per
 * sync mode (`npm run sim` itself, with --json), side by side on the
 * machine's cores; then, in this process, the hunt for each planted bug
 * (src/simulation/planted_campaigns.ts): the seed that caught it, or that the
 * campaign did not reach it. Writes bench/results/sim.json.
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

/** Run `npm run sim`'s program for one sync mode; resolves with its --json record and exit code. */
function runMode(sync: 'batch' | 'periodic', seeds: number, dir: string): Promise<{ record: Record<string, unknown>; exit: number }> {
  const json = join(dir, `${sync}.json`);
  const args = [join(REPO_ROOT, 'dist', 'src', 'simulation', 'sim_main.js'), '--seeds', String(seeds), '--sync', sync, '--json', json, '--rate'];
  console.log(`sim ${sync}: node ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => {
      try {
        resolve({ record: JSON.parse(readFileSync(json, 'utf8')) as Record<string, unknown>, exit: code ?? 1 });
      } catch (err) {
        reject(err);
      }
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seeds: { type: 'string' }, quick: { type: 'boolean' } }, strict: true });
  const seeds = values.seeds !== undefined ? Number(values.seeds) : values.quick === true ? SEEDS_QUICK : SEEDS_DEFAULT;
  if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`--seeds is a positive integer, not ${values.seeds}`);
  const dir = mkdtempSync(join(os.tmpdir(), 'ringkv-bench-sim-'));
  try {
    const started = performance.now();
    const [batch, periodic] = await Promise.all([runMode('batch', seeds, dir), runMode('periodic', seeds, dir)]);
    const planted = [];
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
    writeResults('sim', {
      benchmark: 'sim-campaign',
      configuration: { seeds_per_sync_mode: seeds, ops_per_seed: DEFAULT_OPS, planted_bug_seeds_max: PLANTED_BUG_SEEDS_MAX },
      machine: machine(),
      batch_seeds: batch.record['seeds'],
      batch_violations: batch.record['violations'],
      periodic_seeds: periodic.record['seeds'],
      periodic_violations: periodic.record['violations'],
      real_ms: Math.round(performance.now() - started),
      batch: batch.record,
      periodic: periodic.record,
      planted,
    });
    if (batch.exit !== 0 || periodic.exit !== 0) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
