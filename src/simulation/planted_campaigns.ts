/**
 * "Prove the net" (issue 12): for each defect the campaign exists to catch,
 * the planted bug that switches it back on (src/core/planted_bugs.ts), the
 * campaign settings under which it can show (sync mode, fault kinds), and the
 * properties whose violation counts as catching it. The campaign test asserts
 * that each one with `expected: 'caught'` is found within
 * PLANTED_BUG_SEEDS_MAX seeds; `npm run bench:sim` records the seed that
 * caught each, and says so for those the campaign does not reach.
 *
 * TEST AND BENCHMARK ONLY: it plants bugs. Nothing the CLIs run imports it.
 *
 * Thread contract: single-threaded (planting is module state of the thread).
 */
import type { Property } from '../check/checker.js';
import { __plantBugForTests, type PlantedBug } from '../core/planted_bugs.js';
import { formatSeedResult, parseFaults, runCampaign, type CampaignSummary, type SeedResult, type SyncMode } from './campaign.js';

/** Seeds a planted bug must be found within (issue 12: 200). */
export const PLANTED_BUG_SEEDS_MAX = 200;

/** One planted defect and how the campaign hunts it. */
export interface PlantedCampaign {
  /** The defect, in words. */
  name: string;
  /** Bugs planted together (a silent merge only shows when dots repeat). */
  bugs: readonly PlantedBug[];
  sync: SyncMode;
  /** A fault set or comma list of kinds (as `--faults` takes them). */
  faults: string;
  /** Properties whose violation shows the defect. */
  catches: readonly Property[];
  /**
   * 'caught': the campaign finds it within PLANTED_BUG_SEEDS_MAX seeds (the
   * test asserts it). 'directed': it does not (the reason says why); a
   * directed simulator test shows it instead (named in the reason).
   */
  expected: 'caught' | 'directed';
  reason?: string;
  /** False: hunt with anti-entropy off (it would heal the defect's damage before the checker sees it; say why). */
  antiEntropy?: false;
}

export const PLANTED_CAMPAIGNS: readonly PlantedCampaign[] = [
  {
    name: 'a replica acknowledges a merge but drops 1% of dots',
    bugs: ['replica-drops-merged-version'],
    sync: 'batch',
    faults: 'all',
    catches: ['lost-write', 'read-your-writes', 'divergence'],
    expected: 'caught',
  },
  {
    name: 'dot reuse: counters from what the node holds, old epoch after a periodic-sync crash',
    bugs: ['dot-reuse'],
    sync: 'periodic',
    // Slow fsyncs: half the crashes then come inside one, dropping an unsynced tail the node minted from.
    faults: 'crash,slow-fsync',
    catches: ['dot-conflict', 'one-dot-one-value', 'lost-write', 'divergence'],
    expected: 'caught',
  },
  {
    name: 'silent same-dot merge (with dot reuse, so that dots repeat)',
    bugs: ['dot-reuse', 'silent-same-dot-merge'],
    sync: 'periodic',
    // Slow fsyncs: half the crashes then come inside one, dropping an unsynced tail the node minted from.
    faults: 'crash,slow-fsync',
    catches: ['one-dot-one-value', 'lost-write', 'divergence'],
    expected: 'caught',
  },
  {
    name: 'timer-only tombstone purge',
    bugs: ['timer-only-purge'],
    sync: 'batch',
    faults: 'tombstone-purge,hint-expiry,crash,partition-single',
    catches: ['lost-write', 'read-your-writes'],
    // Caught (seed 11 when this was written) since 'tombstone-purge' seeds end with an operator's major
    // compaction past the grace and write short-lived keys that are deleted and never written again.
    // test/cluster/tombstone_sim.test.ts shows the same defect step by step.
    expected: 'caught',
  },
  {
    name: 'visible before fsync (batch sync)',
    bugs: ['visible-before-fsync'],
    sync: 'batch',
    faults: 'crash,slow-fsync,partition-single',
    catches: ['lost-observed-write', 'lost-write'],
    expected: 'directed',
    reason:
      'exposable in principle but not reached in 200 seeds, although the campaign now crashes nodes inside an fsync in flight and clients pipeline a GET (R=1) behind each SET of a key (tried with crash plus slow-fsync and each of slow-replica, partition-single, loss, stall): read repair, sent once every owner read has ended, re-replicates what a read showed to the owners that lacked it, so the loss also needs every such repair to miss (the other owners did not answer, the repair was dropped, or the reading coordinator was the showing owner and crashed before its reads ended); test/actors/mint_sim.test.ts plants it and shows a get answered before the fsync',
  },
  {
    name: 'tombstone confirmed before it is durable (periodic sync)',
    bugs: ['unsynced-tombstone-confirm'],
    sync: 'periodic',
    faults: 'tombstone-purge,crash,disk-latency',
    catches: ['lost-write', 'read-your-writes'],
    // Caught: a crash inside the sync window right after a delete of a short-lived key, then the major
    // compaction past the grace purges the other owners' confirmed copies. The hunt is sensitive to timing:
    // with crashes alone it was caught at seed 12, then 107, then not within 200 once reads and lone writes
    // were coordinated in batches (issue 14); with slow disks (disk-latency) at seed 86 before and after
    // that change. test/cluster/tombstone_durable_sim.test.ts shows the defect step by step whatever the hunt.
    // test/cluster/tombstone_durable_sim.test.ts shows the same defect step by step.
    // Hunted with anti-entropy off: confirmed tombstones count in the trees, so exchanges (every second in the
    // campaign) ship the tombstone back to the owner whose crash lost it before the others purge theirs, and the
    // deleted value never resurfaces (200 seeds, none caught). The defect stands: a purge that outruns the next
    // exchange still brings the value back.
    expected: 'caught',
    antiEntropy: false,
  },
];

/** What hunting one planted bug found. */
export interface PlantedHunt {
  campaign: PlantedCampaign;
  summary: CampaignSummary;
  /** The first failing seed, if any. */
  found: SeedResult | undefined;
  /** True when `found` broke one of the campaign's `catches` properties. */
  caught: boolean;
}

/** Plant `campaign`'s bugs, run seeds 1.. until the first failure (at most `seedsMax`), unplant. */
export async function huntPlantedBug(campaign: PlantedCampaign, ops: number, seedsMax = PLANTED_BUG_SEEDS_MAX): Promise<PlantedHunt> {
  __plantBugForTests(campaign.bugs);
  let summary: CampaignSummary;
  try {
    const seeds = Array.from({ length: seedsMax }, (_, i) => i + 1);
    summary = await runCampaign({
      seeds,
      ops,
      sync: campaign.sync,
      faults: parseFaults(campaign.faults),
      stopAtFirstFailure: true,
      ...(campaign.antiEntropy === false ? { antiEntropy: false } : {}),
    });
  } finally {
    __plantBugForTests(null);
  }
  const found = summary.failed[0];
  const caught = found !== undefined && found.error === undefined && found.violations.some((v) => campaign.catches.includes(v.property));
  return { campaign, summary, found, caught };
}

/** One line for a hunt. */
export function formatHunt(hunt: PlantedHunt): string {
  const what = `${hunt.campaign.name} [${hunt.campaign.bugs.join('+')}, sync ${hunt.campaign.sync}, faults ${hunt.campaign.faults}]`;
  if (hunt.found === undefined) return `${what}: not caught in ${hunt.summary.seeds} seeds`;
  return `${what}: ${hunt.caught ? 'caught' : 'failed otherwise'} at seed ${hunt.found.seed}: ${formatSeedResult(hunt.found)}`;
}
