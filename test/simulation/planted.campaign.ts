/**
 * Proof that the fault campaign's net holds (issue 12, "Prove the net"):
 * each defect the correctness issue fixed is switched back on as a planted
 * bug (src/core/planted_bugs.ts), and the campaign, from seed 1, must report
 * it within PLANTED_BUG_SEEDS_MAX seeds as one of the violations it names.
 * A campaign marked 'directed' (src/simulation/planted_campaigns.ts says
 * why) is shown by its directed test instead and is hunted here only to
 * report whether it is reached.
 *
 * Not part of `npm test` (the hunts take minutes on two cores): run by
 * `npm run sim:planted`, which .ci/run runs after npm test. Deterministic:
 * a hunt's seeds are 1, 2, ... and each replays with `npm run sim -- --seed <n>`.
 */
import { expect } from 'chai';
import { formatSeedResult } from '../../src/simulation/campaign.js';
import { formatHunt, huntPlantedBug, PLANTED_BUG_SEEDS_MAX, PLANTED_CAMPAIGNS } from '../../src/simulation/planted_campaigns.js';

/** Client ops per seed, as test/simulation/campaign.test.ts runs them. */
const OPS_PER_SEED = 50;

describe('planted bugs: the campaign catches each', function () {
  this.timeout(15 * 60_000);

  for (const planted of PLANTED_CAMPAIGNS) {
    const caughtExpected = planted.expected === 'caught';
    it(`${planted.name} [${planted.bugs.join('+')}], sync ${planted.sync}, faults ${planted.faults}: ${caughtExpected ? `reported as ${planted.catches.join(' or ')} within ${PLANTED_BUG_SEEDS_MAX} seeds` : 'directed test (hunted to report only)'}`, async () => {
      const hunt = await huntPlantedBug(planted, OPS_PER_SEED);
      console.log(`      ${formatHunt(hunt)}`);
      if (!caughtExpected) return;
      expect(hunt.found, `no seed of 1..${PLANTED_BUG_SEEDS_MAX} caught the planted bug`).to.not.equal(undefined);
      expect(hunt.found!.error, 'a violation, not a harness error').to.equal(undefined);
      expect(hunt.caught, `the violation is one of ${planted.catches.join(', ')}: ${formatSeedResult(hunt.found!)}`).to.equal(true);
    });
  }
});
