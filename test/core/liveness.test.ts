import { expect } from 'chai';
import { LivenessTracker, type LivenessInput } from '../../src/core/liveness.js';

const report = (member: string, observer: string, incarnation = 0): LivenessInput => ({ type: 'report', member, observer, incarnation });

describe('core/liveness (two-observer rule)', () => {
  it('one local suspicion alone never yields down, however long it lasts or often it repeats', () => {
    const tracker = new LivenessTracker({ self: 'me' });
    expect(tracker.observe({ type: 'local_suspect', member: 'b' }, 0)).to.deep.equal([{ member: 'b', status: 'suspect', at_ms: 0 }]);
    for (let t = 1; t < 100; t++) {
      expect(tracker.observe({ type: 'local_suspect', member: 'b' }, t * 1000)).to.deep.equal([]);
      expect(tracker.observe(report('b', 'me'), t * 1000 + 1)).to.deep.equal([]); // SWIM's own suspicion is the same observer
      expect(tracker.expire(t * 1000 + 2)).to.deep.equal([]);
    }
    expect(tracker.status('b')).to.equal('suspect');
    expect(tracker.isAlive('b')).to.equal(true);
    expect(tracker.observers('b')).to.deep.equal(['me']);
  });

  it('one remote observer repeating itself is still one observer', () => {
    const tracker = new LivenessTracker({ self: 'me' });
    for (let t = 0; t < 10; t++) tracker.observe(report('b', 'x'), t);
    expect(tracker.status('b')).to.equal('suspect');
  });

  it('local + one remote observer declare down', () => {
    const tracker = new LivenessTracker({ self: 'me' });
    tracker.observe({ type: 'local_suspect', member: 'b' }, 0);
    expect(tracker.observe(report('b', 'x'), 10)).to.deep.equal([{ member: 'b', status: 'down', at_ms: 10 }]);
    expect(tracker.isAlive('b')).to.equal(false);
    expect(tracker.observers('b')).to.deep.equal(['me', 'x']);
  });

  it('two remote observers declare down without the local one (the spec counts distinct servers, self included)', () => {
    const tracker = new LivenessTracker({ self: 'me' });
    tracker.observe(report('b', 'x'), 0);
    expect(tracker.observe(report('b', 'y'), 5)).to.deep.equal([{ member: 'b', status: 'down', at_ms: 5 }]);
  });

  it('fresh evidence of life (a heartbeat that grew) brings a down member back and discards older reports', () => {
    const tracker = new LivenessTracker({ self: 'me' });
    tracker.observe(report('b', 'x'), 0);
    tracker.observe(report('b', 'y'), 1);
    expect(tracker.observe({ type: 'heartbeat', member: 'b' }, 1000)).to.deep.equal([{ member: 'b', status: 'alive', at_ms: 1000 }]);
    expect(tracker.observers('b')).to.deep.equal([]);
    expect(tracker.observe(report('b', 'x'), 1001)).to.deep.equal([{ member: 'b', status: 'suspect', at_ms: 1001 }]); // must be re-reported
  });

  it('an alive at a higher incarnation refutes; reports about older incarnations no longer count', () => {
    const tracker = new LivenessTracker({ self: 'me' });
    tracker.observe({ type: 'local_suspect', member: 'b' }, 0);
    tracker.observe(report('b', 'x', 0), 1);
    expect(tracker.status('b')).to.equal('down');
    expect(tracker.observe({ type: 'alive', member: 'b', incarnation: 0 }, 2)).to.deep.equal([]); // equal incarnation refutes nothing
    expect(tracker.observe({ type: 'alive', member: 'b', incarnation: 1 }, 3)).to.deep.equal([{ member: 'b', status: 'alive', at_ms: 3 }]);
    expect(tracker.observe(report('b', 'x', 0), 4)).to.deep.equal([]); // stale: about incarnation 0
    tracker.observe(report('b', 'x', 1), 5);
    expect(tracker.observe(report('b', 'y', 1), 6)).to.deep.equal([{ member: 'b', status: 'down', at_ms: 6 }]);
  });

  it('a report at a newer incarnation drops reports about the older one', () => {
    const tracker = new LivenessTracker({ self: 'me' });
    tracker.observe(report('b', 'x', 0), 0);
    expect(tracker.observe(report('b', 'y', 1), 1)).to.deep.equal([]); // x's report was about incarnation 0: still one observer
    expect(tracker.observers('b')).to.deep.equal(['y']);
  });

  it('remote reports expire after the TTL: a lone old report and a fresh one do not add up; down stays down', () => {
    const tracker = new LivenessTracker({ self: 'me', report_ttl_ms: 1000 });
    tracker.observe(report('b', 'x'), 0);
    expect(tracker.observe(report('b', 'y'), 1001)).to.deep.equal([]); // x's report is 1001 ms old
    expect(tracker.expire(2002)).to.deep.equal([{ member: 'b', status: 'alive', at_ms: 2002 }]);
    tracker.observe(report('c', 'x'), 3000);
    tracker.observe(report('c', 'y'), 3001);
    expect(tracker.expire(10_000)).to.deep.equal([]); // down needs evidence of life, not silence
    expect(tracker.status('c')).to.equal('down');
  });

  it('local_clear withdraws the local observer', () => {
    const tracker = new LivenessTracker({ self: 'me' });
    tracker.observe({ type: 'local_suspect', member: 'b' }, 0);
    expect(tracker.observe({ type: 'local_clear', member: 'b' }, 1)).to.deep.equal([{ member: 'b', status: 'alive', at_ms: 1 }]);
    expect(tracker.observe(report('b', 'x'), 2)).to.deep.equal([{ member: 'b', status: 'suspect', at_ms: 2 }]);
  });

  it('left is final until a rejoin at a higher incarnation; heartbeats and reports do not revive or kill it', () => {
    const tracker = new LivenessTracker({ self: 'me' });
    tracker.observe({ type: 'heartbeat', member: 'b' }, 0);
    expect(tracker.observe({ type: 'left', member: 'b', incarnation: 2 }, 1)).to.deep.equal([{ member: 'b', status: 'left', at_ms: 1 }]);
    expect(tracker.observe({ type: 'heartbeat', member: 'b' }, 2)).to.deep.equal([]);
    expect(tracker.observe(report('b', 'x', 2), 3)).to.deep.equal([]);
    expect(tracker.observe(report('b', 'y', 2), 4)).to.deep.equal([]);
    expect(tracker.observe({ type: 'alive', member: 'b', incarnation: 3 }, 5)).to.deep.equal([{ member: 'b', status: 'alive', at_ms: 5 }]);
  });

  it('ignores claims about itself and answers for unknown members', () => {
    const tracker = new LivenessTracker({ self: 'me' });
    expect(tracker.observe(report('me', 'x'), 0)).to.deep.equal([]);
    expect(tracker.status('me')).to.equal(undefined);
    expect(tracker.isAlive('nobody')).to.equal(false);
  });

  it('a broken link between two nodes never gets either declared down anywhere', () => {
    // a and b cannot reach each other; everyone else reaches both. Only a suspects b and only b suspects a.
    const nodes = ['a', 'b', 'c', 'd', 'e'];
    const trackers = new Map(nodes.map((id) => [id, new LivenessTracker({ self: id })]));
    const reports: Array<[observer: string, member: string]> = [
      ['a', 'b'],
      ['b', 'a'],
    ];
    for (let round = 0; round < 50; round++) {
      const now = round * 500;
      for (const [observer, member] of reports) {
        trackers.get(observer)!.observe({ type: 'local_suspect', member }, now);
        for (const [id, tracker] of trackers) if (id !== observer) tracker.observe(report(member, observer), now); // gossip reaches all
      }
    }
    for (const [id, tracker] of trackers) {
      for (const member of nodes) if (member !== id) expect(tracker.status(member), `${id}'s view of ${member}`).to.not.equal('down');
    }
    expect(trackers.get('c')!.status('b')).to.equal('suspect');
  });
});
