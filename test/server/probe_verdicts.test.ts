/**
 * The /health and /ready verdicts from a table of cluster statuses: which
 * nodes count as able to serve, W and R (counts and levels, data-center
 * levels) under sloppy and strict quorum, and the reasons they give.
 */
import { expect } from 'chai';
import type { ClusterStatus, MemberStatus } from '../../src/cluster/cluster_types.js';
import type { Requirement } from '../../src/core/consistency.js';
import type { LivenessStatus } from '../../src/core/liveness.js';
import { PROBE_REASON_NODES_MAX } from '../../src/core/limits.js';
import { healthVerdict, readinessVerdict, whyCannotServe } from '../../src/server/probe_verdicts.js';

/** How a node is in a test status. */
type NodeState = 'up' | 'stopped' | 'silent' | 'seen-down' | 'storage-failed';

/** One member: `state` decides `running` and what the others see. */
function member(id: string, dc: string, state: NodeState, all: readonly string[]): MemberStatus {
  const seenBy: Record<string, LivenessStatus> = {};
  if (state !== 'stopped' && state !== 'silent') seenBy[id] = 'alive';
  for (const observer of all) if (observer !== id) seenBy[observer] = state === 'seen-down' ? 'down' : 'alive';
  return {
    id,
    dc,
    rack: id,
    weight: 1,
    running: state !== 'stopped',
    ownership: 1 / all.length,
    seenBy,
    hintsHeld: 0,
    keysEstimate: 0,
    storage:
      state === 'storage-failed'
        ? { state: 'failed', cause: 'corruption in /data/n1/MANIFEST', advice: 'restore the node', since_ms: 1, checksumFailures: {}, quarantined: [] }
        : { state: 'ok', checksumFailures: {}, quarantined: [] },
    counters: null,
    phi: null,
  };
}

/** A status of nodes n1..nK (states in order, all in dc1 unless `dcOf` says otherwise). */
function statusOf(
  states: readonly NodeState[],
  replication: { n?: number; dcs?: Record<string, number>; w: Requirement; r: Requirement; strict?: boolean },
  dcOf: (index: number) => string = () => 'dc1',
): ClusterStatus {
  const ids = states.map((_, i) => `n${i + 1}`);
  const n = replication.n ?? 3;
  return {
    members: states.map((state, i) => member(ids[i]!, dcOf(i), state, ids)),
    replication: { n, dcs: replication.dcs ?? { dc1: n }, w: replication.w, r: replication.r, strict: replication.strict ?? false },
  };
}

describe('server/probe_verdicts', () => {
  it('health: every running thread answers; stopped nodes do not count against it, a silent one or none running does', () => {
    expect(healthVerdict(statusOf(['up', 'up', 'up'], { w: 2, r: 2 }))).to.deep.equal({ ok: true, reason: '3 node thread(s) answer' });
    expect(healthVerdict(statusOf(['up', 'stopped', 'seen-down'], { w: 2, r: 2 }))).to.deep.equal({ ok: true, reason: '2 node thread(s) answer; 1 node(s) stopped' });
    expect(healthVerdict(statusOf(['up', 'storage-failed', 'up'], { w: 2, r: 2 })).ok, 'a failed storage is not cured by a restart: ready says it').to.equal(true);
    expect(healthVerdict(statusOf(['up', 'silent', 'up'], { w: 2, r: 2 }))).to.deep.equal({ ok: false, reason: 'the thread of n2 is running but does not answer' });
    expect(healthVerdict(statusOf(['stopped', 'stopped'], { n: 2, w: 1, r: 1 }))).to.deep.equal({ ok: false, reason: 'no node is running' });
  });

  it('a node serves when it runs, answers and a majority of its peers do not see it down', () => {
    const ids = ['n1', 'n2', 'n3', 'n4'];
    expect(whyCannotServe(member('n1', 'dc1', 'up', ids))).to.equal(null);
    expect(whyCannotServe(member('n1', 'dc1', 'stopped', ids))).to.equal('stopped');
    expect(whyCannotServe(member('n1', 'dc1', 'silent', ids))).to.equal('its thread does not answer');
    expect(whyCannotServe(member('n1', 'dc1', 'seen-down', ids))).to.equal('seen down by 3 of 3 peers');
    // A failed storage: the thread answers, coordinators treat the node as down.
    expect(whyCannotServe(member('n1', 'dc1', 'storage-failed', ids))).to.equal('its storage failed: corruption in /data/n1/MANIFEST');
    // One peer of three (a broken link, a partitioned minority) does not take it out of service; two of three do.
    const oneVote = member('n1', 'dc1', 'up', ids);
    oneVote.seenBy['n2'] = 'down';
    expect(whyCannotServe(oneVote)).to.equal(null);
    oneVote.seenBy['n3'] = 'left';
    expect(whyCannotServe(oneVote)).to.equal('seen down by 2 of 3 peers');
  });

  const cases: { name: string; states: NodeState[]; replication: Parameters<typeof statusOf>[1]; dcOf?: (i: number) => string; ok: boolean; reason: RegExp }[] = [
    { name: 'all up at quorum', states: ['up', 'up', 'up', 'up', 'up'], replication: { w: 'quorum', r: 'quorum' }, ok: true, reason: /^W=quorum \(2\) and R=quorum \(2\) can be met \(sloppy quorum\): 5 of 5 nodes can serve$/ },
    { name: 'sloppy: 3 of 5 down, 2 left is enough for W=R=2', states: ['stopped', 'up', 'silent', 'seen-down', 'up'], replication: { w: 2, r: 2 }, ok: true, reason: /2 of 5 nodes can serve; cannot serve: n1 \(stopped\), n3 \(its thread does not answer\), n4 \(seen down by 4 of 4 peers\)$/ },
    { name: 'sloppy: 1 left is not enough for W=2', states: ['stopped', 'stopped', 'up'], replication: { w: 2, r: 1 }, ok: false, reason: /^W=2 needs 2 node\(s\) that can serve; 1 can; cannot serve: n1 \(stopped\), n2 \(stopped\)$/ },
    { name: 'a failed storage takes its node out', states: ['storage-failed', 'storage-failed', 'up'], replication: { w: 2, r: 1 }, ok: false, reason: /^W=2 needs 2 node\(s\) that can serve; 1 can; cannot serve: n1 \(its storage failed: corruption in \/data\/n1\/MANIFEST\), n2/ },
    { name: 'R=all with one down', states: ['up', 'up', 'stopped'], replication: { w: 'one', r: 'all' }, ok: false, reason: /^R=all \(3\) needs 3 node\(s\) that can serve; 2 can/ },
    { name: 'strict: 1 down of n=3 at quorum is fine', states: ['up', 'stopped', 'up', 'up', 'up'], replication: { w: 'quorum', r: 'quorum', strict: true }, ok: true, reason: /\(strict quorum\): 4 of 5/ },
    { name: 'strict: 2 down of n=3 could be one key\'s owners', states: ['up', 'stopped', 'up', 'stopped', 'up'], replication: { w: 'quorum', r: 1, strict: true }, ok: false, reason: /^W=quorum \(2\) under strict quorum: 2 node\(s\) cannot serve, so a key whose 3 owners include them has fewer than 2/ },
    { name: 'a count the cluster cannot resolve', states: ['up', 'up', 'up'], replication: { w: 4, r: 2 }, ok: false, reason: /^W=4 cannot be met by this cluster: invalid request: a replica count of 4 is outside 1\.\.3/ },
    {
      name: 'each_quorum: dc2 lost its majority',
      states: ['up', 'up', 'up', 'up', 'stopped', 'stopped'],
      replication: { n: 5, dcs: { dc1: 3, dc2: 2 }, w: 'each_quorum', r: 'local_quorum' },
      dcOf: (i) => (i < 3 ? 'dc1' : 'dc2'),
      ok: false,
      reason: /^W=each_quorum \(2 in dc1, 2 in dc2\) needs 2 node\(s\) in dc2 that can serve; 1 can; R=.*; cannot serve: n5 \(stopped\), n6 \(stopped\)$/,
    },
    {
      name: 'local_quorum must hold from every DC with replicas',
      states: ['up', 'up', 'up', 'up', 'stopped', 'stopped'],
      replication: { n: 5, dcs: { dc1: 3, dc2: 2 }, w: 'one', r: 'local_quorum' },
      dcOf: (i) => (i < 3 ? 'dc1' : 'dc2'),
      ok: false,
      reason: /^R=local_quorum \(2 in dc1, 2 in dc2\) needs 2 node\(s\) in dc2 that can serve; 1 can/,
    },
  ];
  for (const c of cases) {
    it(`readiness: ${c.name}`, () => {
      const verdict = readinessVerdict(statusOf(c.states, c.replication, c.dcOf));
      expect(verdict.ok, verdict.reason).to.equal(c.ok);
      expect(verdict.reason).to.match(c.reason);
    });
  }

  it(`names at most ${PROBE_REASON_NODES_MAX} nodes in a reason and counts the rest`, () => {
    const states: NodeState[] = Array.from({ length: 20 }, (_, i) => (i < 12 ? 'stopped' : 'up'));
    const verdict = readinessVerdict(statusOf(states, { w: 2, r: 2 }));
    expect(verdict.ok).to.equal(true);
    expect(verdict.reason).to.match(/n8 \(stopped\) and 4 more$/);
    expect(verdict.reason).to.not.include('n9 ');
  });
});
