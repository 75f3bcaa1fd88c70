/**
 * A dot conflict in a running (simulated) cluster (issue 12, "Merges check
 * what they merge"): owners hold two different values under one dot, as
 * after a dot minted twice. A read returns both values as siblings, the
 * coordinator logs the conflict at error level with the key, the dot and
 * both digests, read repair spreads both, and each replica that meets both
 * counts it in its `dot_conflicts` stat. With the planted bug
 * 'silent-same-dot-merge' the same steps show one value and nobody is told,
 * so this test can fail.
 */
import { expect } from 'chai';
import { encodeDvv, valueDigest } from '../../src/core/dotted_version_vector.js';
import { __plantBugForTests } from '../../src/core/planted_bugs.js';
import { seedFrom } from '../../src/core/prng.js';
import { SimCluster } from '../../src/simulation/sim_cluster.js';
import type { Version } from '../../storage/version.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const utf8 = new TextEncoder();

/** A stored version of `value` under dot n1#epoch0:1 (the dot both values share). */
function underSharedDot(value: string): Version {
  const bytes = utf8.encode(value);
  return { clock: encodeDvv({ dot: { actor: 'n1#epoch0', counter: 1, ts_ms: 1, digest: valueDigest(bytes) }, past: [] }), value: bytes, ts_ms: 1 };
}

/** Owners n1 and n3 hold "one", n2 holds "two", both under one dot; a client reads the key with r=all. */
async function readConflict(seed: number): Promise<{ values: string[]; logged: string[]; counted: number }> {
  const cluster = new SimCluster({ seed, nodes: 3, replication: { n: 3, w: 2, r: 2 } });
  try {
    await cluster.world.runFor(2000);
    const key = utf8.encode('k');
    for (const [label, value] of [['n1', 'one'], ['n2', 'two'], ['n3', 'one']] as const) {
      await cluster.askNode(label, 'replica', { type: 'merge', key, versions: [underSharedDot(value)] });
    }
    const read = await cluster.client().get('k', { r: 'all' });
    await cluster.world.runFor(2000); // read repair lands
    const logged = cluster.world.logs
      .all('error')
      .filter((line) => line.msg.startsWith('dot conflict'))
      .map((line) => `${line.msg.split(':')[0]} ${JSON.stringify(line.fields)}`);
    let counted = 0;
    for (const label of ['n1', 'n2', 'n3']) counted += (await cluster.askNode<{ dot_conflicts: number }>(label, 'replica', { type: 'stats' })).dot_conflicts;
    return { values: read.values.map((v) => v.toString()).sort(), logged, counted };
  } finally {
    cluster.dispose();
  }
}

describe('actors: dot conflicts in a simulated cluster', () => {
  before(() => console.log(`      SEED=${SEED} (replay with SEED=${SEED})`));
  afterEach(() => __plantBugForTests(null));

  it('a read shows both values, the coordinator logs the conflict, and the replicas that meet both count it', async () => {
    const { values, logged, counted } = await readConflict(SEED);
    expect(values).to.deep.equal(['one', 'two']);
    const digestOf = (v: string): string => valueDigest(utf8.encode(v)).toString(16).padStart(8, '0');
    const coordinatorLine = logged.find((line) => line.includes('among replica answers'));
    expect(coordinatorLine, logged.join('\n')).to.not.equal(undefined);
    expect(coordinatorLine).to.contain(Buffer.from('k').toString('hex')).and.contain('n1#epoch0:1');
    expect(coordinatorLine).to.contain(digestOf('one')).and.contain(digestOf('two'));
    expect(counted, 'read repair brought both values to replicas, which counted them').to.be.at.least(2);
  });

  it("planted bug 'silent-same-dot-merge': one value is shown and nobody is told", async () => {
    __plantBugForTests('silent-same-dot-merge');
    const { values, logged, counted } = await readConflict(SEED);
    expect(values).to.have.length(1);
    expect(logged).to.deep.equal([]);
    expect(counted).to.equal(0);
  });
});
