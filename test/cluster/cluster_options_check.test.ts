/**
 * The one configuration check (issue 13, item 3): W and R within 1..N,
 * N within the nodes, data-center levels against the replica layout, ids,
 * weights, sync mode, request deadline; every problem at once, each named
 * the way the user gave it (an `openCluster` field or a `ringkv start`
 * flag). Before, `--w 4 --n 3` started and then refused every write.
 */
import { expect } from 'chai';
import { resolveCluster } from '../../src/cluster/cluster_config.js';
import { checkClusterOptions, clusterOptionProblems, type CheckedOptions } from '../../src/cluster/cluster_options_check.js';
import { ConfigError } from '../../src/core/errors.js';
import { readStartFlags, type StartFlags } from '../../src/cli/start_flags.js';

/** `ringkv start`'s defaults, as commander hands them over. */
const FLAG_DEFAULTS: StartFlags = { nodes: 5, dataDir: './data', respPort: 6380, httpPort: 8080, bind: '127.0.0.1', protectedMode: 'yes', sync: 'batch', antiEntropy: 'on' };

function problemsOfFlags(flags: Partial<StartFlags>): string[] {
  const read = readStartFlags({ ...FLAG_DEFAULTS, ...flags });
  return read.ok ? [] : read.problems;
}

describe('cluster options check', () => {
  it('accepts good options, with and without data centers', () => {
    const good: CheckedOptions[] = [
      { nodes: 1 },
      { nodes: 5, dataDir: '/tmp/x', replication: { n: 3, w: 3, r: 'one', strict: true }, syncMode: 'periodic', requestTimeoutMs: 2000 },
      { nodes: 5, replication: { w: 'all', r: 'quorum' } },
      {
        nodes: [{ id: 'a', dc: 'east' }, { id: 'b', dc: 'east' }, { id: 'c', dc: 'west', weight: 2 }, { id: 'd', dc: 'west', rack: 'r1' }],
        replication: { dcs: { east: 2, west: 1 }, w: 'local_quorum', r: 'each_quorum' },
      },
    ];
    for (const options of good) expect(clusterOptionProblems(options), JSON.stringify(options)).to.deep.equal([]);
  });

  it('W or R above N is refused, saying why and what to use (the issue\'s --w 4 --n 3 and --r 4)', () => {
    const [w] = clusterOptionProblems({ nodes: 5, replication: { n: 3, w: 4 } });
    expect(w).to.contain('replication.w 4 is more than replication.n 3').and.contain('use 1..3');
    const [r] = clusterOptionProblems({ nodes: 5, replication: { r: 4 } });
    expect(r).to.contain('replication.r 4 is more than N=3 (the default of replication.n)');
  });

  it('reports every problem at once, one message each', () => {
    const problems = clusterOptionProblems({
      nodes: [{ id: 'a' }, { id: 'a' }, { id: 'bad id' }, { id: 'LOCK' }, { id: 'd', weight: 5 }],
      dataDir: '',
      replication: { n: 9, w: 0, r: 'most' as 'one' },
      syncMode: 'sometimes' as 'batch',
      requestTimeoutMs: -1,
    });
    expect(problems).to.have.length(7);
    expect(problems[0]).to.contain('"a" appears twice');
    expect(problems[1]).to.contain('"bad id" must be 1-64 letters');
    expect(problems[2]).to.contain('"LOCK" names a file of the data directory');
    expect(problems[3]).to.contain('weight 5 must be in (0, 2]');
    expect(problems[4]).to.contain('dataDir must name a directory');
    expect(problems[5]).to.contain('syncMode is batch or periodic');
    expect(problems[6]).to.contain('requestTimeoutMs');
    // With valid nodes the replication problems are found too, all of them.
    const replication = clusterOptionProblems({ nodes: 3, replication: { n: 4, w: 0, r: 'most' as 'one' } });
    expect(replication).to.have.length(3);
    expect(replication[0]).to.contain('replication.n 4 is more than the 3 node(s)');
    expect(replication[1]).to.contain('replication.w 0: a write needs at least 1 replica');
    expect(replication[2]).to.contain('replication.r "most" is not a count or a level');
  });

  it('checks data-center layouts: counts per DC, n against dcs, local_quorum where a DC holds no replica', () => {
    const nodes = [{ id: 'a', dc: 'east' }, { id: 'b', dc: 'east' }, { id: 'c', dc: 'west' }];
    expect(clusterOptionProblems({ nodes })[0]).to.contain('give replication.dcs');
    expect(clusterOptionProblems({ nodes, replication: { dcs: { east: 3 } } })[0]).to.contain('replication.dcs.east = 3, but east has 2 node(s)');
    expect(clusterOptionProblems({ nodes, replication: { dcs: { east: 0, west: 0 } } })[0]).to.contain('places no replica anywhere');
    expect(clusterOptionProblems({ nodes, replication: { dcs: { east: 2, west: 1 }, n: 2 } })[0]).to.contain('disagrees with replication.dcs');
    const local = clusterOptionProblems({ nodes, replication: { dcs: { east: 2 }, w: 'local_quorum' } });
    expect(local).to.have.length(1);
    expect(local[0]).to.contain('local_quorum: data center west has 1 node(s) but no replicas');
    expect(clusterOptionProblems({ nodes, replication: { dcs: { east: 2, west: 1 }, w: 3, r: 4 } })[0]).to.contain('replication.r 4 is more than N=3 (replication.dcs)');
  });

  it('checks what JavaScript callers can pass in the wrong type', () => {
    expect(clusterOptionProblems({ nodes: '5' as unknown as number })[0]).to.contain('nodes is a node count or a list of nodes');
    expect(clusterOptionProblems({ nodes: 0 })[0]).to.contain('nodes 0: a cluster in one process has 1..63 nodes');
    // Each node is a worker thread and the runtime hosts at most 63 (it asserted after the data directory was made).
    expect(clusterOptionProblems({ nodes: 64 })[0]).to.contain('nodes 64: a cluster in one process has 1..63 nodes');
    expect(clusterOptionProblems({ nodes: 63 })).to.deep.equal([]);
    expect(clusterOptionProblems({ nodes: 2.5 })[0]).to.contain('nodes 2.5');
    expect(clusterOptionProblems({ nodes: 3, replication: { strict: 'yes' as unknown as boolean } })[0]).to.contain('replication.strict is true or false');
    expect(clusterOptionProblems({ nodes: [{ id: '..' }] })[0]).to.contain('names a file of the data directory');
    expect(clusterOptionProblems({ nodes: 3, antiEntropy: 'on' as unknown as boolean })[0]).to.contain('antiEntropy is true, false or an object of settings');
    expect(clusterOptionProblems({ nodes: 3, antiEntropy: { leafBits: 30 } })[0]).to.contain('antiEntropy.leafBits is a whole number in 4..20, not 30');
    expect(clusterOptionProblems({ nodes: 3, antiEntropy: { intervalMs: 0 } })[0]).to.contain('antiEntropy.intervalMs is a positive whole number, not 0');
    expect(clusterOptionProblems({ nodes: 3, antiEntropy: { every: 5 } as unknown as boolean })[0]).to.contain('antiEntropy.every is not a setting');
    expect(clusterOptionProblems({ nodes: 3, antiEntropy: { intervalMs: 500, leafBits: 12 } })).to.deep.equal([]);
  });

  it('openCluster\'s path throws one ConfigError listing them (resolveCluster and checkClusterOptions)', () => {
    for (const check of [() => checkClusterOptions({ nodes: 3, replication: { w: 4, r: 5 } }), () => resolveCluster({ nodes: 3, replication: { w: 4, r: 5 } })]) {
      let caught: unknown;
      try {
        check();
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(ConfigError);
      const err = caught as ConfigError;
      expect(err.code).to.equal('INVALID_CONFIG');
      expect(err.problems).to.have.length(2);
      expect(err.message).to.contain('invalid configuration (2 problems); nothing was started').and.contain('  - replication.w 4').and.contain('  - replication.r 5');
    }
  });

  it('ringkv start names the same problems by their flags, with flag syntax and ports checked in the same pass', () => {
    expect(problemsOfFlags({ w: '4', n: '3' })).to.deep.equal([
      '--w 4 is more than --n 3 replicas per key: a write could never gather 4 acknowledgements, so every one would fail; use 1..3, a level (one, quorum, all, local_quorum, each_quorum), or more replicas',
    ]);
    expect(problemsOfFlags({ r: '4' })[0]).to.contain('--r 4 is more than N=3 (the default of --n)');
    const many = problemsOfFlags({ nodes: '2', n: '3', w: 'x', respPort: '70000', httpPort: '6380', sync: 'later' });
    expect(many).to.have.length(4);
    expect(many[0]).to.contain('--w "x": expected a count');
    expect(many[1]).to.contain('--resp-port "70000": expected a port number');
    expect(many[2]).to.contain('--n 3 is more than the 2 node(s) (--nodes)');
    expect(many[3]).to.contain('--sync is batch or periodic, not "later"');
    expect(problemsOfFlags({ respPort: '7000', httpPort: '7000' })[0]).to.contain('both 7000');
    expect(problemsOfFlags({ nodes: 'five', w: '9' })).to.deep.equal(['--nodes "five": expected a node count, a whole number']);
    expect(problemsOfFlags({ nodes: '0' })[0]).to.contain('--nodes 0: a cluster in one process has 1..63 nodes');
    const read = readStartFlags({ ...FLAG_DEFAULTS, nodes: '3', n: '3', w: 'all', r: '1', respPort: '0', httpPort: '0' });
    expect(read).to.deep.equal({
      ok: true,
      settings: { nodes: 3, dataDir: './data', respPort: 0, httpPort: 0, bind: '127.0.0.1', protectedMode: true, sync: 'batch', antiEntropy: true, n: 3, w: 'all', r: 1 },
    });
    expect(problemsOfFlags({ antiEntropy: 'maybe' })).to.deep.equal(['--anti-entropy "maybe": expected on or off']);
    expect(readStartFlags({ ...FLAG_DEFAULTS, antiEntropy: 'off' })).to.have.nested.property('settings.antiEntropy', false);
  });

  it('the multi-process flags (issue 16): --node-id, --listen, --seeds and the cluster secret, every problem at once', () => {
    const secret = 'sixteen bytes at least, here';
    const read = readStartFlags({ ...FLAG_DEFAULTS, nodeId: 'p0', listen: '127.0.0.1:7010', seeds: '127.0.0.1:7010, 127.0.0.1:7011', n: '3', clusterSecret: secret });
    expect(read.ok).to.equal(true);
    if (!read.ok) return;
    // N=3 with one node here is fine: N is checked against every member once the cluster forms.
    expect(read.settings).to.deep.include({ nodes: 1, nodeIds: ['p0'], n: 3, peers: { listen: '127.0.0.1:7010', seeds: ['127.0.0.1:7010', '127.0.0.1:7011'], secret } });
    expect(problemsOfFlags({ nodeId: 'p0', listen: '127.0.0.1:7010' })).to.deep.equal([
      '--listen without a cluster secret: set RINGKV_CLUSTER_SECRET or give --cluster-secret-file, the same in every process',
    ]);
    expect(problemsOfFlags({ nodeId: 'p0', listen: '0.0.0.0:7010', seeds: 'nohost', clusterSecret: 'short' })).to.deep.equal([
      '--listen 0.0.0.0:7010: give the address the other processes reach this one at (it is what they dial), not a wildcard',
      '--seeds: "nohost" is not host:port (e.g. 127.0.0.1:7010, [::1]:7010)',
      'the cluster secret (RINGKV_CLUSTER_SECRET or --cluster-secret-file) must be at least 16 bytes (it keeps other programs off the peer port); use the same long random string in every process',
    ]);
    expect(problemsOfFlags({ seeds: '127.0.0.1:7010' })[0]).to.match(/^--seeds without --listen/);
    expect(problemsOfFlags({ nodes: '2', nodeId: 'a' })[0]).to.match(/^--nodes 2 with --node-id a: give one id per node/);
    expect(problemsOfFlags({ nodeId: 'a,a', nodes: '2' })[0]).to.match(/node id "a" appears twice/);
  });
});
