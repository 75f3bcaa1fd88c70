/**
 * The cluster record (issue 13, item 2): what a data directory remembers of
 * its cluster's shape, checksummed; the differences a start with another
 * shape is refused for; the recorded tokens a reopen runs on.
 */
import { expect } from 'chai';
import { resolveCluster } from '../../src/cluster/cluster_config.js';
import { decodeRecord, encodeRecord, newRecord, shapeDifferences, shapeMismatch, withRecordedTokens } from '../../src/cluster/cluster_record.js';
import { ConfigError, DataDirError } from '../../src/core/errors.js';
import { checksum } from '../../src/core/hash.js';

const DIR = '/data/ringkv';

function decodeError(text: string): DataDirError {
  try {
    decodeRecord(text, DIR);
  } catch (err) {
    expect(err).to.be.instanceOf(DataDirError);
    return err as DataDirError;
  }
  throw new Error('expected the record to be refused');
}

describe('cluster record', () => {
  const five = resolveCluster({ nodes: 5, replication: { n: 3 } });
  const record = newRecord(five, 1_700_000_000_000);

  it('round-trips through its text, which names every member with its tokens', () => {
    const text = encodeRecord(record);
    expect(text.split('\n')[0]).to.match(/^ringkv cluster record 1 checksum [0-9a-f]{8}$/);
    expect(decodeRecord(text, DIR)).to.deep.equal(record);
    expect(record.members.map((m) => m.id)).to.deep.equal(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(record.members[0]!.tokens).to.deep.equal([...five.ring[0]!.tokens].sort((a, b) => a - b));
    expect(record.replicas_per_dc).to.deep.equal({ dc1: 3 });
  });

  it('refuses a damaged record with advice: a changed byte, a missing header, a malformed body, a newer format', () => {
    const text = encodeRecord(record);
    const flipped = text.replace('"n4"', '"n9"');
    const checksum = decodeError(flipped);
    expect(checksum.reason).to.equal('corrupt-record');
    expect(checksum.message).to.contain('checksum').and.contain('Restore the file from a backup').and.contain('delete the file and start with that shape');
    expect(decodeError(text.slice(text.indexOf('\n') + 1)).message).to.contain('no "ringkv cluster record" header line');
    expect(decodeError(withHeader('{"cluster_id":"x"}\n')).message).to.contain('no created_ms');
    expect(decodeError(withHeader('{"cluster_id":\n')).message).to.contain('not JSON');
    expect(decodeError(text.replace('record 1 ', 'record 2 ')).message).to.contain('has format 2');
  });

  it('finds no difference in the same shape, and runs on the recorded tokens', () => {
    expect(shapeDifferences(record, five)).to.deep.equal([]);
    const moved = { ...record, members: record.members.map((m) => ({ ...m, tokens: m.tokens.map((t) => t + 1) })) };
    const config = withRecordedTokens(five, moved);
    expect(config.ring.map((m) => m.tokens[0])).to.deep.equal(moved.members.map((m) => m.tokens[0]));
    expect(config.nodes).to.deep.equal(five.nodes);
  });

  it('says what differs: the node count (the issue\'s 5 then 7), N, node order, placement, replicas per DC', () => {
    expect(shapeDifferences(record, resolveCluster({ nodes: 7 }))).to.deep.equal(['nodes: it was created for 5 nodes (n1..n5); 7 were asked (n1..n7)']);
    expect(shapeDifferences(record, resolveCluster({ nodes: 5, replication: { n: 2 } }))).to.deep.equal(['replicas per key (N): it was created with 3; 2 were asked']);
    const named = newRecord(resolveCluster({ nodes: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] }), 0);
    expect(shapeDifferences(named, resolveCluster({ nodes: [{ id: 'b' }, { id: 'a' }, { id: 'c' }] }))).to.deep.equal([
      'nodes: it was created for nodes a, b, c (in that order); b, a, c were asked',
    ]);
    expect(shapeDifferences(named, resolveCluster({ nodes: [{ id: 'a' }, { id: 'b', weight: 2 }, { id: 'c', rack: 'r1' }] }))).to.deep.equal([
      'node b: it was created in data center dc1, rack b, weight 1; data center dc1, rack b, weight 2 was asked',
      'node c: it was created in data center dc1, rack c, weight 1; data center dc1, rack r1, weight 1 was asked',
    ]);
    const twoDcs = [{ id: 'a', dc: 'x' }, { id: 'b', dc: 'x' }, { id: 'c', dc: 'y' }];
    const dcRecord = newRecord(resolveCluster({ nodes: twoDcs, replication: { dcs: { x: 2, y: 1 } } }), 0);
    expect(shapeDifferences(dcRecord, resolveCluster({ nodes: twoDcs, replication: { dcs: { x: 1, y: 1 } } }))).to.deep.equal([
      'replicas per data center: it was created with {"x":2,"y":1} (N=3); {"x":1,"y":1} (N=2) were asked',
    ]);
  });

  it('the refusal is a ConfigError that names the cluster, lists the differences and says how to start it', () => {
    const err = shapeMismatch(DIR, record, shapeDifferences(record, resolveCluster({ nodes: 7 })));
    expect(err).to.be.instanceOf(ConfigError);
    expect(err.problems).to.have.length(1);
    expect(err.message)
      .to.contain(`data directory ${DIR} holds cluster ${record.cluster_id}`)
      .and.contain('ringkv start --nodes 5 --n 3')
      .and.contain('openCluster({ nodes: 5, replication: { n: 3 } })')
      .and.contain('or give a new data directory')
      .and.contain('elastic membership');
  });
});

/** The record file of `body`, with a valid checksum. */
function withHeader(body: string): string {
  return `ringkv cluster record 1 checksum ${checksum(Buffer.from(body, 'utf8')).toString(16).padStart(8, '0')}\n${body}`;
}
