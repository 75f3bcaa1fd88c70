import { expect } from 'chai';
import { InvalidRequestError, TimeoutError } from '../../src/core/errors.js';
import type { ActorRef } from '../../src/runtime/actor.js';
import { ActorHost } from '../../src/runtime/actor_host.js';
import { ActorSystem } from '../../src/runtime/actor_system.js';
import { routeOf } from '../../src/runtime/codec.js';
import { EnvelopeKind, type Envelope } from '../../src/runtime/envelope.js';
import type { LogRecord } from '../../src/runtime/logger.js';
import { allocateDoorbells, Transport } from '../../src/runtime/transport.js';
import { actorKinds, type RelayOutcome } from './partition_actors.js';

const MODULE = new URL('./partition_actors.js', import.meta.url).href;

/** Deadline of an ask relayed between threads: short, since across a partition it always expires. */
const RELAY_TIMEOUT_MS = 200;

const peer = (thread: number): ActorRef => ({ thread, id: 'p' });

for (const workers of [3, 2]) {
describe(`runtime/partition (real worker threads: 3 nodes on ${workers} workers)`, function () {
  this.timeout(20000);
  let system: ActorSystem;
  const logs: LogRecord[] = [];

  beforeEach(async () => {
    logs.length = 0;
    system = await ActorSystem.start({
      threads: 3,
      // With 2 workers nodes 1 and 3 share worker 1: their link is cut inside one thread.
      workers,
      modules: [MODULE],
      spawn: { 1: [{ kind: 'peer', id: 'p' }], 2: [{ kind: 'peer', id: 'p' }], 3: [{ kind: 'peer', id: 'p' }] },
      sink: (rec) => logs.push(rec),
    });
  });

  afterEach(async () => {
    await system.shutdown();
  });

  /** Make the peer on thread `from` ask the peer on thread `to` to echo. */
  const relayAsk = (from: number, to: number): Promise<RelayOutcome> =>
    system.ask<RelayOutcome>(peer(from), { type: 'relay-ask', to: peer(to), value: `${from}->${to}`, timeout_ms: RELAY_TIMEOUT_MS }, 5000);
  const relaySend = (from: number, to: number, times: number): Promise<number> =>
    system.ask<number>(peer(from), { type: 'relay-send', to: peer(to), n: 1, times }, 5000);
  const total = (thread: number): Promise<number> => system.ask<number>(peer(thread), { type: 'total' }, 5000);
  const drops = async (thread: number): Promise<number> => (await system.hostStats(thread)).partitionDrops;
  const delivered = (from: number, to: number): RelayOutcome => ({ ok: `${from}->${to}` });
  const timedOut: RelayOutcome = { error: 'TimeoutError' };

  it('drops asks and sends between groups and keeps them working within a group', async () => {
    expect(await relayAsk(1, 3), 'connected before the partition').to.deep.equal(delivered(1, 3));
    await system.partition([[1, 2], [3]]);
    expect(await relayAsk(1, 3)).to.deep.equal(timedOut);
    expect(await relayAsk(3, 1)).to.deep.equal(timedOut);
    expect(await relayAsk(3, 2)).to.deep.equal(timedOut);
    expect(await relayAsk(1, 2)).to.deep.equal(delivered(1, 2));
    expect(await relayAsk(2, 1)).to.deep.equal(delivered(2, 1));

    expect(await relaySend(1, 3, 5), 'a dropped send still reports accepted').to.equal(5);
    expect(await relaySend(1, 2, 5)).to.equal(5);
    expect(await relayAsk(1, 2), 'barrier: the ring 1->2 is FIFO').to.deep.equal(delivered(1, 2));
    expect(await total(2)).to.equal(5);
    await system.heal();
    expect(await relayAsk(1, 3), 'barrier: anything not dropped on 1->3 has arrived').to.deep.equal(delivered(1, 3));
    expect(await total(3), 'sends across the partition were lost, not delayed').to.equal(0);
  });

  it('lets the main thread reach every thread during a partition', async () => {
    await system.partition([[1], [2], [3]]);
    for (const thread of [1, 2, 3]) {
      expect(system.send(peer(thread), { type: 'add', n: thread })).to.equal(true);
      expect(await system.ask(peer(thread), { type: 'echo', value: thread }, 1000)).to.equal(thread);
      expect(await total(thread)).to.equal(thread);
    }
    expect(system.blockedPeers(0)).to.deep.equal({ outbound: [], inbound: [] });
    expect(system.blockedPeers(2)).to.deep.equal({ outbound: [1, 3], inbound: [1, 3] });
  });

  it('refuses to partition the main thread, unknown threads, or a thread listed twice', async () => {
    for (const groups of [[[0], [1, 2]], [[1], [4]], [[1, 2], [2, 3]]]) {
      try {
        await system.partition(groups);
        expect.fail(`partition(${JSON.stringify(groups)}) should be refused`);
      } catch (err) {
        expect(err, JSON.stringify(groups)).to.be.instanceOf(InvalidRequestError);
      }
    }
    expect(await relayAsk(1, 2), 'a refused partition blocks nothing').to.deep.equal(delivered(1, 2));
  });

  it('heals every link', async () => {
    await system.partition([[1], [2, 3]]);
    expect(await relayAsk(1, 2)).to.deep.equal(timedOut);
    await system.heal();
    for (const thread of [1, 2, 3]) expect(system.blockedPeers(thread)).to.deep.equal({ outbound: [], inbound: [] });
    expect(await relayAsk(1, 2)).to.deep.equal(delivered(1, 2));
    expect(await relayAsk(2, 1)).to.deep.equal(delivered(2, 1));
    expect(await relayAsk(3, 1)).to.deep.equal(delivered(3, 1));
  });

  it('blocks one direction only with partitionOneWay', async () => {
    await system.partitionOneWay([1], [3]);
    expect(system.blockedPeers(1)).to.deep.equal({ outbound: [3], inbound: [] });
    expect(system.blockedPeers(3)).to.deep.equal({ outbound: [], inbound: [1] });

    // 3 -> 1 is delivered; an ask 3 -> 1 still times out, because its reply travels 1 -> 3.
    expect(await relaySend(3, 1, 4)).to.equal(4);
    expect(await relayAsk(3, 1)).to.deep.equal(timedOut);
    expect(await total(1), 'sends 3 -> 1 arrived (ahead of the relayed ask on the FIFO ring 3 -> 1)').to.equal(4);

    expect(await relaySend(1, 3, 4)).to.equal(4);
    expect(await relayAsk(1, 3)).to.deep.equal(timedOut);
    expect(await relayAsk(2, 3), 'other links untouched').to.deep.equal(delivered(2, 3));
    expect(await relayAsk(3, 2)).to.deep.equal(delivered(3, 2));
    await system.heal();
    expect(await relayAsk(1, 3), 'barrier after heal').to.deep.equal(delivered(1, 3));
    expect(await total(3), 'sends 1 -> 3 were dropped').to.equal(0);
  });

  it('keeps a restarted thread on its side of the partition', async () => {
    await system.partition([[1, 2], [3]]);
    await system.terminateThread(3);
    await system.restartThread(3);
    expect(system.blockedPeers(3)).to.deep.equal({ outbound: [1, 2], inbound: [1, 2] });
    expect(await drops(3), 'fresh thread').to.equal(0);
    expect(await relayAsk(3, 1)).to.deep.equal(timedOut);
    expect(await drops(3), 'the restarted thread drops its own outbound envelope').to.equal(1);
    expect(await relayAsk(1, 3)).to.deep.equal(timedOut);
    expect(await system.ask(peer(3), { type: 'echo', value: 'main' }, 1000), 'main still reaches it').to.equal('main');
    await system.heal();
    expect(await relayAsk(3, 1)).to.deep.equal(delivered(3, 1));
    expect(await relayAsk(1, 3)).to.deep.equal(delivered(1, 3));
  });

  // Drops are counted per worker: with nodes sharing one, a node's count is not its own.
  if (workers === 3) it('counts drops at the thread that drops them, and a thread in no group bridges the others', async () => {
    await system.partition([[1], [3]]);
    expect(await relaySend(1, 3, 5)).to.equal(5);
    expect(await drops(1), 'dropped at the sender').to.equal(5);
    expect(await drops(3), 'nothing reached the receiver').to.equal(0);
    expect(await relayAsk(3, 1)).to.deep.equal(timedOut);
    expect(await drops(3)).to.equal(1);
    expect(await relayAsk(1, 2)).to.deep.equal(delivered(1, 2));
    expect(await relayAsk(2, 3)).to.deep.equal(delivered(2, 3));
    expect(await drops(2), 'the bridge drops nothing').to.equal(0);
    expect(await drops(0), 'the main thread drops nothing').to.equal(0);
  });
});
}

describe('runtime/partition (one host, envelopes handed in directly)', () => {
  const self: ActorRef = { thread: 1, id: 'p' };
  let host: ActorHost;
  let transport: Transport;

  beforeEach(() => {
    host = new ActorHost(1, [0, 1, 2, 3], actorKinds, () => undefined);
    // No rings: nothing here may reach a transport ring (it would be reported undeliverable).
    transport = new Transport(1, { threadCount: 4, doorbells: allocateDoorbells(4), rings: [] }, host);
    host.attach(transport);
    host.startThread(1);
    host.spawn({ kind: 'peer', id: 'p' }, 1);
  });

  afterEach(() => host.shutdown());

  const add = (from: number, n: number): Envelope => ({ k: EnvelopeKind.Send, tt: 1, to: 'p', ft: from, fi: 'p', a: 0, m: { type: 'add', n } });

  it('drops envelopes arriving from a blocked thread (in flight when the partition began)', async () => {
    host.setBlockedLinks([routeOf(3, 1)]);
    host.onBatch(3, [add(3, 5), add(3, 6)]);
    host.onBatch(2, [add(2, 7)]);
    expect(host.stats.partitionDrops).to.equal(2);
    expect(await host.ask<number>(undefined, self, { type: 'total' }, 1000)).to.equal(7);

    host.setBlockedLinks([]);
    host.onBatch(3, [add(3, 1)]);
    expect(await host.ask<number>(undefined, self, { type: 'total' }, 1000), 'healed').to.equal(8);
    expect(host.stats.partitionDrops).to.equal(2);
  });

  it('drops outbound envelopes to a blocked thread: sends report accepted, asks time out', async () => {
    host.setBlockedLinks([routeOf(1, 2)]);
    expect(host.send(self, { thread: 2, id: 'p' }, { type: 'add', n: 1 })).to.equal(true);
    expect(transport.pendingFor(2), 'never queued for the ring').to.equal(0);
    const started = Date.now();
    try {
      await host.ask(self, { thread: 2, id: 'p' }, { type: 'total' }, 50);
      expect.fail('the ask should time out');
    } catch (err) {
      expect(err).to.be.instanceOf(TimeoutError);
    }
    expect(Date.now() - started).to.be.at.least(40);
    expect(host.stats.partitionDrops).to.equal(2);
    host.onBatch(2, [add(2, 3)]);
    expect(await host.ask<number>(undefined, self, { type: 'total' }, 1000), 'inbound from 2 still delivered').to.equal(3);
  });
});
