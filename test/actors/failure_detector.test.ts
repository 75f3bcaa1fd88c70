import { expect } from 'chai';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { DETECTOR_MODES, type DetectorMode } from '../../src/core/liveness_detector.js';
import { PHI_REPORTED_MAX } from '../../src/core/limits.js';
import { PHI_DEFAULTS } from '../../src/core/phi_accrual.js';
import type { FailureDetectorStats } from '../../actors/failure_detector.js';
import { detectorRef, memberId } from '../../actors/member_refs.js';
import { Cluster } from './membership_cluster.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const NODES = [1, 2, 3, 4, 5];

/**
 * Bound on crash detection at every live observer, 5 nodes, 500 ms periods:
 * heartbeat: 2 s timeout + gossip spread; phi: phi 8 at ~1.5–2.5 s + spread;
 * swim: a probe of the victim within one round (4 periods) + 1 period + the
 * fixed 2 s suspicion timeout; swim+lifeguard: the same, the timeout shrinking
 * from 12 s toward 2 s with two confirmations (each another round);
 * combined: two observers (phi or SWIM at two nodes) within a round or so.
 */
const DETECTION_BOUND_MS: Record<DetectorMode, number> = {
  heartbeat: 4_000,
  phi: 4_000,
  swim: 6_000,
  'swim+lifeguard': 10_000,
  combined: 3_000,
};

/** Detection times observed per mode, printed at the end. */
const observed: string[] = [];

/** A 5-node cluster in `mode`, settled for 5 s plus a random part of a period. */
async function settledCluster(seed: number, mode: DetectorMode): Promise<Cluster> {
  const cluster = new Cluster({ seed, threads: NODES, seeds: [1, 2], mode });
  cluster.spawnAll();
  await cluster.world.runFor(5_000 + new Prng(seed).int(500));
  return cluster;
}

/** Every listed observer's liveness changes: no repeats, first one 'alive', last one equal to its view. */
async function expectOnlyChanges(cluster: Cluster, observers: readonly number[]): Promise<void> {
  const views = await cluster.views(observers);
  for (const o of observers) {
    const last = new Map<string, string>();
    for (const change of cluster.seen(o)) {
      const previous = last.get(change.member);
      if (previous === undefined) expect(change.status, `${memberId(o)}: first change about ${change.member}`).to.equal('alive');
      else expect(change.status, `${memberId(o)}: repeated ${change.status} about ${change.member} at ${change.at_ms}`).to.not.equal(previous);
      last.set(change.member, change.status);
    }
    expect(Object.fromEntries(last), `${memberId(o)}: published changes add up to its view`).to.deep.equal(views.get(o));
  }
}

/**
 * The `stats` ask's phi: in modes phi and combined, every observer rates the
 * crashed `victim` over the threshold and every live peer under it, all
 * finite; in the other modes, no phi at all.
 */
async function expectPhiStats(cluster: Cluster, mode: DetectorMode, observers: readonly number[], victim: number): Promise<void> {
  const stats = await cluster.askAll<FailureDetectorStats>(observers, (t) => detectorRef(memberId(t)), { type: 'stats' });
  expect(stats.size).to.equal(observers.length);
  for (const [o, { phi }] of stats) {
    if (mode !== 'phi' && mode !== 'combined') {
      expect(phi, `${mode}: ${memberId(o)} runs no phi`).to.deep.equal({});
      continue;
    }
    const peers = NODES.filter((t) => t !== o);
    expect(Object.keys(phi).sort(), `${memberId(o)} rates every peer`).to.deep.equal(peers.map(memberId).sort());
    for (const [member, value] of Object.entries(phi)) {
      expect(Number.isFinite(value) && value >= 0 && value <= PHI_REPORTED_MAX, `${memberId(o)}: phi of ${member} = ${value}`).to.equal(true);
      if (member === memberId(victim)) expect(value, `${memberId(o)}: phi of the crashed ${member}`).to.be.at.least(PHI_DEFAULTS.threshold);
      else expect(value, `${memberId(o)}: phi of the live ${member}`).to.be.below(PHI_DEFAULTS.threshold);
    }
  }
}

describe('actors/failure_detector in the simulator', function () {
  before(() => console.log(`      SEED=${SEED} (replay with SEED=${SEED})`));
  after(() => console.log(observed.map((line) => `      ${line}`).join('\n')));

  for (const [index, mode] of DETECTOR_MODES.entries()) {
    it(`${mode}: a crashed node is down at every live observer within ${DETECTION_BOUND_MS[mode]} ms, nobody else is, and it is alive again after a restart`, async () => {
      const seed = (SEED + index) >>> 0;
      const cluster = await settledCluster(seed, mode);
      const victim = 5;
      const observers = NODES.filter((t) => t !== victim);
      const crashed_at_ms = cluster.world.now();
      cluster.world.crash(victim);
      await cluster.world.runFor(DETECTION_BOUND_MS[mode] + 5_000);
      const detections = observers.map((o) => (cluster.firstSeen(o, victim, 'down', crashed_at_ms) ?? Infinity) - crashed_at_ms);
      observed.push(`${mode.padEnd(15)} crash detection ms at each observer: ${detections.map((d) => Math.round(d)).join(', ')} (seed ${seed})`);
      for (const d of detections) expect(d, `${mode}, seed ${seed}`).to.be.at.most(DETECTION_BOUND_MS[mode]);
      expect(cluster.downs(NODES, observers, 0), `${mode}, seed ${seed}: false positives`).to.deep.equal([]);
      await expectPhiStats(cluster, mode, observers, victim);

      cluster.world.restart(victim);
      const restarted_at_ms = cluster.world.now();
      await cluster.world.runFor(5_000);
      const back = observers.map((o) => (cluster.firstSeen(o, victim, 'alive', restarted_at_ms) ?? Infinity) - restarted_at_ms);
      observed.push(`${mode.padEnd(15)} restarted node alive again after ms: ${back.map((d) => Math.round(d)).join(', ')}`);
      for (const d of back) expect(d, `${mode}, seed ${seed}: seen alive after restart`).to.be.at.most(2_000);
      const views = await cluster.views(NODES);
      for (const o of NODES) {
        for (const m of NODES.filter((t) => t !== o)) expect(views.get(o)?.[memberId(m)], `${mode}: ${memberId(o)} about ${memberId(m)}`).to.equal('alive');
      }
      await expectOnlyChanges(cluster, observers);
    });
  }

  for (const [index, mode] of DETECTOR_MODES.entries()) {
    it(`${mode}: no healthy node is declared down in 10 virtual minutes on a clean network`, async () => {
      const seed = (SEED + 20 + index) >>> 0;
      const cluster = await settledCluster(seed, mode);
      await cluster.world.runFor(10 * 60_000);
      expect(cluster.downs(NODES, NODES, 0), `${mode}, seed ${seed}`).to.deep.equal([]);
      const views = await cluster.views(NODES);
      for (const o of NODES) expect(Object.values(views.get(o) ?? {}), `${memberId(o)}'s view`).to.deep.equal(['alive', 'alive', 'alive', 'alive']);
    });
  }

  it('combined: a broken link between two nodes (both directions cut, all else fine) never gets either declared down', async () => {
    const seed = (SEED + 30) >>> 0;
    const cluster = await settledCluster(seed, 'combined');
    const blocked_before = cluster.world.trace.count('partition');
    cluster.world.partitionOneWay([1], [2]);
    cluster.world.partitionOneWay([2], [1]);
    await cluster.world.runFor(5 * 60_000);
    // The link was really used and cut: gossip and SWIM messages between n1 and n2 were blocked.
    expect(cluster.world.trace.count('partition') - blocked_before).to.be.greaterThan(100);
    expect(cluster.downs(NODES, NODES, 0), `seed ${seed}`).to.deep.equal([]);
    const views = await cluster.views(NODES);
    expect(views.get(1)?.['n2']).to.not.equal('down');
    expect(views.get(2)?.['n1']).to.not.equal('down');
  });

  it('combined: a node partitioned away is declared down by the majority (only), and seen alive again within a couple of periods after heal', async () => {
    const seed = (SEED + 31) >>> 0;
    const cluster = await settledCluster(seed, 'combined');
    const majority = [1, 2, 3, 4];
    const cut_at_ms = cluster.world.now();
    cluster.world.partition([5], majority);
    await cluster.world.runFor(20_000);
    const detections = majority.map((o) => (cluster.firstSeen(o, 5, 'down', cut_at_ms) ?? Infinity) - cut_at_ms);
    observed.push(`combined        partitioned node down at the majority after ms: ${detections.map((d) => Math.round(d)).join(', ')} (seed ${seed})`);
    for (const d of detections) expect(d, `seed ${seed}`).to.be.at.most(DETECTION_BOUND_MS.combined);
    // One observer alone cannot declare anyone down: the minority node suspects, never condemns.
    expect(cluster.downs([5], majority, 0), 'the lone minority node declared someone down').to.deep.equal([]);
    expect(cluster.downs(majority, majority, 0)).to.deep.equal([]);
    const minority_view = (await cluster.views([5])).get(5);
    expect(Object.values(minority_view ?? {})).to.include('suspect');

    cluster.world.heal();
    const healed_at_ms = cluster.world.now();
    await cluster.world.runFor(10_000);
    const back = majority.map((o) => (cluster.firstSeen(o, 5, 'alive', healed_at_ms) ?? Infinity) - healed_at_ms);
    observed.push(`combined        partitioned node alive again after heal, ms: ${back.map((d) => Math.round(d)).join(', ')}`);
    for (const d of back) expect(d, `seed ${seed}: alive after heal`).to.be.at.most(1_500); // three 500 ms periods
    const views = await cluster.views(NODES);
    for (const o of NODES) expect(Object.values(views.get(o) ?? {}), `${memberId(o)}'s view after heal`).to.deep.equal(['alive', 'alive', 'alive', 'alive']);
    await expectOnlyChanges(cluster, NODES);
  });
});
