import { expect } from 'chai';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { SwimMachine, type SwimAction, type SwimConfig, type SwimMessage, type SwimUpdate } from '../../src/core/swim.js';
import { BroadcastQueue, retransmitLimit } from '../../src/core/swim_broadcast.js';

const SEED = seedFrom(process.env['SEED'], 0x5357494d);

type Send = Extract<SwimAction, { type: 'send' }>;
type SetTimer = Extract<SwimAction, { type: 'set_timer' }>;
const sends = (actions: SwimAction[]): Send[] => actions.filter((a): a is Send => a.type === 'send');
const timers = (actions: SwimAction[]): SetTimer[] => actions.filter((a): a is SetTimer => a.type === 'set_timer');
const statuses = (actions: SwimAction[]) => actions.filter((a) => a.type === 'status');
const alive = (member: string, incarnation = 0): SwimUpdate => ({ member, incarnation, status: 'alive', from: member });
const suspect = (member: string, from: string, incarnation = 0): SwimUpdate => ({ member, incarnation, status: 'suspect', from });

/** A machine for `self` that knows `others` (alive, incarnation 0). */
function machine(others: string[], config: Partial<SwimConfig> = {}, random = new Prng(SEED)): { m: SwimMachine; rnd: () => number } {
  const rnd = () => random.next();
  const m = new SwimMachine({ self: 'self', ...config });
  m.step({ type: 'gossip', updates: others.map((id) => alive(id)) }, 0, rnd);
  return { m, rnd };
}

/** Run a tick at `now_ms` and return its probe ping. */
function tick(m: SwimMachine, now_ms: number, rnd: () => number): { actions: SwimAction[]; ping: Extract<SwimMessage, { type: 'ping' }> } {
  const actions = m.step({ type: 'tick' }, now_ms, rnd);
  const ping = sends(actions).find((s) => s.message.type === 'ping')?.message;
  if (ping?.type !== 'ping') throw new Error('tick sent no ping');
  return { actions, ping };
}

describe('core/swim', () => {
  console.log(`    swim tests SEED=${SEED}`);

  it('probes every member once per round, in a fresh shuffled order, and schedules its timers', () => {
    const { m, rnd } = machine(['a', 'b', 'c', 'd']);
    const targets: string[] = [];
    for (let i = 0; i < 8; i++) {
      const now = i * 500;
      const { actions, ping } = tick(m, now, rnd);
      targets.push(ping.target);
      expect(timers(actions).map((t) => [t.timer.type, t.at_ms])).to.deep.equal([
        ['probe_timeout', now + 250],
        ['tick', now + 500],
      ]);
      m.step({ type: 'ack', from: ping.target, seq: ping.seq, updates: [] }, now + 5, rnd);
    }
    expect(targets.slice(0, 4).sort()).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(targets.slice(4).sort()).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(statuses(m.step({ type: 'tick' }, 4000, rnd))).to.deep.equal([]); // everyone acked: no suspicion
  });

  it('answers a ping addressed to it with an ack carrying the same seq, and ignores a misdirected one', () => {
    const { m, rnd } = machine(['a']);
    const reply = sends(m.step({ type: 'ping', from: 'a', target: 'self', seq: 42, updates: [] }, 10, rnd));
    expect(reply).to.have.length(1);
    expect(reply[0]!.to).to.equal('a');
    expect(reply[0]!.message).to.include({ type: 'ack', from: 'self', seq: 42 });
    expect(m.step({ type: 'ping', from: 'a', target: 'someone-else', seq: 43, updates: [] }, 11, rnd)).to.deep.equal([]);
  });

  it('after the probe timeout asks k = 3 others (never the target) to ping-req it, wanting nacks', () => {
    const { m, rnd } = machine(['a', 'b', 'c', 'd', 'e']);
    const { ping } = tick(m, 0, rnd);
    const actions = m.step({ type: 'probe_timeout', seq: ping.seq }, 250, rnd);
    const reqs = sends(actions);
    expect(reqs).to.have.length(3);
    for (const req of reqs) {
      expect(req.to).to.not.equal(ping.target);
      expect(req.message).to.include({ type: 'ping_req', target: ping.target, seq: ping.seq, want_nack: true });
    }
    expect(new Set(reqs.map((r) => r.to)).size).to.equal(3);
    expect(m.step({ type: 'probe_timeout', seq: ping.seq }, 251, rnd)).to.deep.equal([]); // a duplicate timer
  });

  it('relays a ping-req: pings the target, forwards its ack, or nacks after 80% of the probe timeout', () => {
    const { m, rnd } = machine(['origin', 't']);
    const relayed = sends(m.step({ type: 'ping_req', from: 'origin', target: 't', seq: 7, want_nack: true, updates: [] }, 100, rnd));
    expect(relayed).to.have.length(1);
    const ping = relayed[0]!.message;
    expect(relayed[0]!.to).to.equal('t');
    expect(ping).to.include({ type: 'ping', target: 't' });
    const forwarded = sends(m.step({ type: 'ack', from: 't', seq: ping.seq, updates: [] }, 120, rnd));
    expect(forwarded.map((s) => [s.to, s.message.type, s.message.seq])).to.deep.equal([['origin', 'ack', 7]]);

    const second = m.step({ type: 'ping_req', from: 'origin', target: 't', seq: 8, want_nack: true, updates: [] }, 200, rnd);
    const nackTimer = timers(second)[0]!;
    expect(nackTimer.timer.type).to.equal('relay_timeout');
    expect(nackTimer.at_ms).to.equal(200 + 200);
    const nack = sends(m.step(nackTimer.timer, 400, rnd));
    expect(nack.map((s) => [s.to, s.message.type, s.message.seq])).to.deep.equal([['origin', 'nack', 8]]);
  });

  it('makes an unanswered target suspect at the end of the period and gossips it (with Lifeguard the suspect hears it too)', () => {
    const { m, rnd } = machine(['a', 'b', 'c', 'd']);
    const { ping } = tick(m, 0, rnd);
    m.step({ type: 'probe_timeout', seq: ping.seq }, 250, rnd);
    const end = m.step({ type: 'tick' }, 500, rnd);
    expect(statuses(end)).to.deep.equal([{ type: 'status', member: ping.target, status: 'suspect', incarnation: 0, at_ms: 500 }]);
    expect(end.filter((a) => a.type === 'observed')).to.deep.equal([
      { type: 'observed', member: ping.target, status: 'suspect', incarnation: 0, observer: 'self', at_ms: 500 },
    ]);
    // n = 5: min = 4 · 1 · 500 = 2000, max = 6 · 2000 = 12000, K = 2; no confirmation yet → 12000.
    const suspicionTimer = timers(end).find((t) => t.timer.type === 'suspicion_timeout')!;
    expect(suspicionTimer.at_ms).to.equal(500 + 12000);
    const piggybacked = sends(end).flatMap((s) => ('updates' in s.message ? s.message.updates : []));
    expect(piggybacked).to.deep.include(suspect(ping.target, 'self'));
    expect(m.status(ping.target)).to.equal('suspect');
  });

  it('an indirect ack saves the target from suspicion and leaves local health unchanged', () => {
    const { m, rnd } = machine(['a', 'b', 'c', 'd']);
    const { ping } = tick(m, 0, rnd);
    const relay = sends(m.step({ type: 'probe_timeout', seq: ping.seq }, 250, rnd))[0]!.to;
    m.step({ type: 'ack', from: relay, seq: ping.seq, updates: [] }, 300, rnd);
    expect(statuses(m.step({ type: 'tick' }, 500, rnd))).to.deep.equal([]);
    expect(m.awarenessScore()).to.equal(0);
  });

  it('confirm → down: each independent confirmation shortens the Lifeguard timeout (n = 16)', () => {
    const others = Array.from({ length: 15 }, (_, i) => `m${String(i + 1).padStart(2, '0')}`);
    const { m, rnd } = machine(others);
    // n = 16: min = 4 · log10(16) · 500 = 2408, max = 6 · 2408 = 14448, K = 4 − 2 = 2.
    const start = m.step({ type: 'gossip', updates: [suspect('m01', 'm02')] }, 1000, rnd);
    expect(timers(start).map((t) => t.at_ms)).to.deep.equal([1000 + 14448]);
    expect(m.suspicion('m01')!.observers).to.deep.equal(['m02']);
    expect(timers(m.step({ type: 'gossip', updates: [suspect('m01', 'm02')] }, 1100, rnd))).to.deep.equal([]); // the accuser again
    // C = 1: 14448 − 12040 · ln 2 / ln 3 = 6851.
    const first = m.step({ type: 'gossip', updates: [suspect('m01', 'm03')] }, 1200, rnd);
    expect(timers(first).map((t) => t.at_ms)).to.deep.equal([1000 + 6851]);
    expect(m.step({ type: 'suspicion_timeout', member: 'm01' }, 1000 + 6850, rnd)).to.deep.equal([]); // not yet
    // C = 2 = K: the minimum.
    const second = m.step({ type: 'gossip', updates: [suspect('m01', 'm04')] }, 1300, rnd);
    expect(timers(second).map((t) => t.at_ms)).to.deep.equal([1000 + 2408]);
    const down = m.step({ type: 'suspicion_timeout', member: 'm01' }, 1000 + 2408, rnd);
    expect(statuses(down)).to.deep.equal([{ type: 'status', member: 'm01', status: 'down', incarnation: 0, at_ms: 3408 }]);
    expect(m.status('m01')).to.equal('down');
    expect(m.step({ type: 'suspicion_timeout', member: 'm01' }, 1000 + 14448, rnd)).to.deep.equal([]); // the stale first timer
  });

  it('without Lifeguard the suspicion timeout is fixed at the minimum whatever the confirmations', () => {
    const others = Array.from({ length: 15 }, (_, i) => `m${String(i + 1).padStart(2, '0')}`);
    const { m, rnd } = machine(others, { lifeguard: false });
    expect(timers(m.step({ type: 'gossip', updates: [suspect('m01', 'm02')] }, 1000, rnd)).map((t) => t.at_ms)).to.deep.equal([1000 + 2408]);
    expect(timers(m.step({ type: 'gossip', updates: [suspect('m01', 'm03')] }, 1100, rnd)).map((t) => t.at_ms)).to.deep.equal([1000 + 2408]);
  });

  it('refutes a suspicion of itself by raising its incarnation and gossiping alive; stale accusations are ignored', () => {
    const { m, rnd } = machine(['a', 'b']);
    const refuted = m.step({ type: 'gossip', updates: [suspect('self', 'a', 0)] }, 100, rnd);
    expect(statuses(refuted)).to.deep.equal([{ type: 'status', member: 'self', status: 'alive', incarnation: 1, at_ms: 100 }]);
    expect(m.incarnation()).to.equal(1);
    expect(m.awarenessScore()).to.equal(1); // having to refute is a sign of poor local health
    const { ping } = tick(m, 200, rnd);
    expect(ping.updates).to.deep.include(alive('self', 1));
    expect(m.step({ type: 'gossip', updates: [suspect('self', 'b', 0)] }, 300, rnd)).to.deep.equal([]);
    // A down claim at the current incarnation is refuted the same way.
    m.step({ type: 'gossip', updates: [{ member: 'self', incarnation: 1, status: 'down', from: 'b' }] }, 400, rnd);
    expect(m.incarnation()).to.equal(2);
  });

  it('a higher-incarnation alive clears a suspicion; its pending timer then does nothing', () => {
    const { m, rnd } = machine(['a', 'b', 'c']);
    m.step({ type: 'gossip', updates: [suspect('a', 'b')] }, 0, rnd);
    expect(m.step({ type: 'gossip', updates: [alive('a', 0)] }, 10, rnd)).to.deep.equal([]); // same incarnation: no refutation
    const cleared = m.step({ type: 'gossip', updates: [alive('a', 1)] }, 20, rnd);
    expect(statuses(cleared)).to.deep.equal([{ type: 'status', member: 'a', status: 'alive', incarnation: 1, at_ms: 20 }]);
    expect(m.suspicion('a')).to.equal(undefined);
    expect(m.step({ type: 'suspicion_timeout', member: 'a' }, 100_000, rnd)).to.deep.equal([]);
  });

  it('with Lifeguard, pings to a suspect carry its suspicion (so it can refute at once)', () => {
    const { m, rnd } = machine(['a']);
    m.step({ type: 'gossip', updates: [suspect('a', 'z')] }, 0, rnd);
    for (let i = 0; i < 20; i++) m.step({ type: 'ping', from: 'a', target: 'self', seq: i, updates: [] }, 1, rnd); // drain the queue
    const { ping } = tick(m, 10, rnd);
    expect(ping.target).to.equal('a');
    expect(ping.updates).to.deep.include(suspect('a', 'z'));

    const plain = machine(['a'], { lifeguard: false });
    plain.m.step({ type: 'gossip', updates: [suspect('a', 'z')] }, 0, plain.rnd);
    for (let i = 0; i < 20; i++) plain.m.step({ type: 'ping', from: 'a', target: 'self', seq: i, updates: [] }, 1, plain.rnd);
    expect(tick(plain.m, 10, plain.rnd).ping.updates).to.deep.equal([]);
  });

  describe('local health awareness', () => {
    it('a failed probe whose relays do not even nack raises the score; timeouts stretch by score + 1; a direct ack lowers it', () => {
      const { m, rnd } = machine(['a', 'b', 'c', 'd']);
      const { ping } = tick(m, 0, rnd);
      const reqs = sends(m.step({ type: 'probe_timeout', seq: ping.seq }, 250, rnd));
      m.step({ type: 'nack', from: reqs[0]!.to, seq: ping.seq }, 400, rnd); // 1 of 3 relays nacked
      const next = m.step({ type: 'tick' }, 500, rnd);
      expect(m.awarenessScore()).to.equal(2); // 3 expected − 1 received
      expect(timers(next).filter((t) => t.timer.type !== 'suspicion_timeout').map((t) => [t.timer.type, t.at_ms])).to.deep.equal([
        ['probe_timeout', 500 + 250 * 3],
        ['tick', 500 + 500 * 3],
      ]);
      const ping2 = sends(next).find((s) => s.message.type === 'ping')!.message;
      m.step({ type: 'ack', from: ping2.type === 'ping' ? ping2.target : '', seq: ping2.seq, updates: [] }, 600, rnd);
      expect(m.awarenessScore()).to.equal(1);
    });

    it('all relays nacking means the target is the problem: no penalty', () => {
      const { m, rnd } = machine(['a', 'b', 'c', 'd']);
      const { ping } = tick(m, 0, rnd);
      for (const req of sends(m.step({ type: 'probe_timeout', seq: ping.seq }, 250, rnd))) m.step({ type: 'nack', from: req.to, seq: ping.seq }, 450, rnd);
      m.step({ type: 'tick' }, 500, rnd);
      expect(m.awarenessScore()).to.equal(0);
    });

    it('is off without Lifeguard: no nacks asked, no score, no stretching', () => {
      const { m, rnd } = machine(['a', 'b', 'c', 'd'], { lifeguard: false });
      const { ping } = tick(m, 0, rnd);
      const reqs = sends(m.step({ type: 'probe_timeout', seq: ping.seq }, 250, rnd));
      expect(reqs.every((r) => r.message.type === 'ping_req' && !r.message.want_nack)).to.equal(true);
      const next = m.step({ type: 'tick' }, 500, rnd);
      expect(m.awarenessScore()).to.equal(0);
      expect(timers(next).find((t) => t.timer.type === 'tick')!.at_ms).to.equal(1000);
    });
  });

  describe('broadcast queue', () => {
    it('retransmits each update mult · ceil(log10(n + 1)) times, least-sent first, one update per member', () => {
      expect(retransmitLimit(4, 5)).to.equal(4); // ceil(log10 6) = 1
      expect(retransmitLimit(4, 16)).to.equal(8); // ceil(log10 17) = 2
      const queue = new BroadcastQueue();
      queue.enqueue(suspect('a', 'x'));
      queue.enqueue(alive('a', 1)); // supersedes the suspicion
      queue.enqueue(alive('b'));
      expect(queue.size()).to.equal(2);
      expect(queue.take(2, 1)).to.deep.equal([alive('a', 1)]);
      expect(queue.take(2, 1)).to.deep.equal([alive('b')]); // b had been sent fewer times
      expect(queue.take(2, 8)).to.have.length(2);
      expect(queue.size()).to.equal(0);
    });
  });

  describe('a small cluster of machines (pure event loop, 1 ms links)', () => {
    /** Run `n` machines for `until_ms`; `crashed` stops answering at `crash_at_ms`. Returns who declared whom down, when. */
    function run(n: number, lifeguard: boolean, crash_at_ms: number, until_ms: number): Map<string, Map<string, number>> {
      const prng = new Prng(SEED + n);
      const rnd = () => prng.next();
      const ids = Array.from({ length: n }, (_, i) => `n${i}`);
      const machines = new Map(ids.map((id) => [id, new SwimMachine({ self: id, lifeguard })]));
      const queue: Array<{ at: number; to: string; event: Parameters<SwimMachine['step']>[0]; order: number }> = [];
      let order = 0;
      const downs = new Map(ids.map((id) => [id, new Map<string, number>()]));
      const carry = (owner: string, now: number, actions: SwimAction[]) => {
        for (const a of actions) {
          if (a.type === 'send') queue.push({ at: now + 1, to: a.to, event: a.message, order: order++ });
          else if (a.type === 'set_timer') queue.push({ at: a.at_ms, to: owner, event: a.timer, order: order++ });
          else if (a.type === 'status' && a.status === 'down') downs.get(owner)!.set(a.member, now);
        }
      };
      for (const [id, machine] of machines) {
        for (let i = 0; i < ids.length; i += 8) carry(id, 0, machine.step({ type: 'gossip', updates: ids.slice(i, i + 8).map((o) => alive(o)) }, 0, rnd));
        queue.push({ at: Math.floor(rnd() * 500), to: id, event: { type: 'tick' }, order: order++ });
      }
      for (let steps = 0; queue.length > 0 && steps < 2_000_000; steps++) {
        queue.sort((x, y) => x.at - y.at || x.order - y.order);
        const next = queue.shift()!;
        if (next.at > until_ms) break;
        if (next.to === 'n0' && next.at >= crash_at_ms) continue; // crashed: deaf and silent
        carry(next.to, next.at, machines.get(next.to)!.step(next.event, next.at, rnd));
      }
      return downs;
    }

    for (const lifeguard of [false, true]) {
      it(`${lifeguard ? 'swim+lifeguard' : 'swim'}: a crashed member is declared down by everyone, nobody else by anyone`, () => {
        const downs = run(8, lifeguard, 2000, 30_000);
        const detection = [...downs.entries()].filter(([o]) => o !== 'n0').map(([, d]) => (d.get('n0') ?? NaN) - 2000);
        console.log(`      detection after the crash (ms): ${detection.join(' ')}`);
        for (const [observer, declared] of downs) {
          if (observer === 'n0') continue;
          expect([...declared.keys()], `${observer} declared`).to.deep.equal(['n0']);
          // min 2000 ms, max 12000 ms; detection also waits for n0 to be probed.
          expect(declared.get('n0')! - 2000).to.be.within(0, 20_000);
        }
      });
    }
  });
});
