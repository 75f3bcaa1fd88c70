/**
 * Formation of a multi-process cluster (issue 16): every process decides
 * the members alone, from its own roster and its seeds', so they must all
 * decide the same whatever order the rosters came in; a recorded cluster
 * is kept as recorded; disagreements are refused with every problem.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { formCluster } from '../../src/cluster/cluster_formation.js';
import { decodeRoster, encodeRoster, processIdOf, ROSTER_VERSION, type ProcessRoster } from '../../src/cluster/process_roster.js';
import { ConfigError, CorruptionError } from '../../src/core/errors.js';

function roster(ids: string[], port: number, extra: Partial<ProcessRoster> = {}): ProcessRoster {
  return {
    v: ROSTER_VERSION,
    process: processIdOf(ids),
    listen: `127.0.0.1:${port}`,
    nodes: ids.map((id) => ({ id, dc: 'dc1', rack: id, weight: 1 })),
    replicas: { n: 3 },
    record: null,
    ...extra,
  };
}

describe('cluster formation across processes', () => {
  it('every process forms the same cluster from the same seeds, whatever the order (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 3 }), fc.integer(), (processes, perProcess, shuffle) => {
        const rosters = Array.from({ length: processes }, (_, p) => roster(Array.from({ length: perProcess }, (_, i) => `node-${p}-${i}`), 7000 + p, { replicas: {} }));
        const decisions = rosters.map((own, i) => {
          const others = rosters.filter((r) => r !== own);
          if ((shuffle >> i) & 1) others.reverse();
          return formCluster(own, others, {}, 1000 + i);
        });
        const first = decisions[0]!;
        expect(first.config.nodes).to.have.length(processes * perProcess);
        for (const [i, d] of decisions.entries()) {
          expect(d.config.ring).to.deep.equal(first.config.ring);
          expect(d.config.nodes).to.deep.equal(first.config.nodes);
          expect(d.record.cluster_id).to.equal(first.record.cluster_id);
          expect(d.record.members).to.deep.equal(first.record.members);
          // Each hosts its own nodes, at its own address.
          expect(d.local.map((m) => d.config.nodes.find((n) => n.member === m)!.host)).to.deep.equal(Array(perProcess).fill(rosters[i]!.listen));
        }
      }),
      { numRuns: 50 },
    );
  });

  it('a process with a record runs the recorded members and tokens, and takes a moved peer\'s new address', () => {
    const [a, b, c] = [roster(['a'], 7001), roster(['b'], 7002), roster(['c'], 7003)];
    const formed = formCluster(a, [b, c], {}, 1);
    const movedC = { ...c, listen: '127.0.0.1:7999' };
    const again = formCluster({ ...a, record: formed.record }, [movedC], { w: 1 }, 2);
    expect(again.config.ring).to.deep.equal(formed.config.ring);
    expect(again.config.replication.w).to.equal(1);
    expect(again.config.nodes.find((n) => n.label === 'c')!.host).to.equal('127.0.0.1:7999');
    expect(again.record.members.find((m) => m.id === 'c')!.host).to.equal('127.0.0.1:7999');
    expect(again.record.cluster_id).to.equal(formed.record.cluster_id);
    // A process that lost its disk adopts a peer's record.
    const adopted = formCluster(c, [{ ...a, record: formed.record }], {}, 3);
    expect(adopted.config.ring).to.deep.equal(formed.config.ring);
    expect(adopted.local).to.deep.equal([formed.config.nodes.find((n) => n.label === 'c')!.member]);
  });

  it('refuses what cannot be one cluster, naming every problem', () => {
    const a = roster(['a'], 7001);
    expect(() => formCluster(a, [roster(['b'], 7002)], {}, 1)).to.throw(ConfigError, /replication.n 3 is more than the 2 node/);
    expect(() => formCluster(a, [roster(['a', 'b'], 7002)], {}, 1)).to.throw(ConfigError, /node id "a" is hosted by both 127.0.0.1:7001 and 127.0.0.1:7002/);
    expect(() => formCluster(a, [roster(['b'], 7002, { replicas: { n: 2 } }), roster(['c'], 7003)], {}, 1)).to.throw(ConfigError, /different replicas per key/);
    const formed = formCluster(a, [roster(['b'], 7002), roster(['c'], 7003)], {}, 1);
    expect(() => formCluster(roster(['d'], 7004), [{ ...a, record: formed.record }], {}, 2)).to.throw(ConfigError, /node "d" is not a member of cluster/);
    expect(() => formCluster({ ...a, record: formed.record, replicas: { n: 2 } }, [], {}, 2)).to.throw(ConfigError, /replicas per key: the cluster was created with \{"dc1":3\}/);
    const other = formCluster(roster(['x'], 8001), [roster(['y'], 8002), roster(['z'], 8003)], {}, 1);
    expect(() => formCluster({ ...a, record: formed.record }, [{ ...roster(['x'], 8001), record: other.record }], {}, 2)).to.throw(ConfigError, /different clusters/);
  });

  it('rosters round-trip, and a malformed one is a CorruptionError naming the peer', () => {
    const r = roster(['a', 'b'], 7001);
    expect(decodeRoster(encodeRoster(r), 'p')).to.deep.equal(r);
    expect(() => decodeRoster(new TextEncoder().encode('{"v":1}'), 'p9')).to.throw(CorruptionError, /peer p9.*malformed roster/);
    expect(() => decodeRoster(new TextEncoder().encode(JSON.stringify({ ...r, v: 2 })), 'p9')).to.throw(CorruptionError, /version 2/);
    expect(() => decodeRoster(new Uint8Array([0xff, 0xfe]), 'p9')).to.throw(CorruptionError, /not JSON/);
  });
});
