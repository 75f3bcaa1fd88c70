/**
 * Two actor systems as two processes would run them (issue 16): each hosts
 * one node thread on its own worker and reaches the other's through its
 * main thread and a peer link on loopback. An actor asks an actor of the
 * other "process" and gets its answer; sends keep their order; the main
 * thread is refused a remote node (thread 0 is per process); envelopes for
 * a thread the receiver does not host are dropped and counted.
 */
import { expect } from 'chai';
import { InvalidRequestError } from '../../src/core/errors.js';
import { ActorSystem, placeThreads } from '../../src/runtime/actor_system.js';
import { EnvelopeKind } from '../../src/runtime/envelope.js';
import { PeerListener, PeerOutbound, type PeerIdentity } from '../../src/runtime/peer_link.js';

const MODULE = new URL('./test_actors.js', import.meta.url).href;
const SECRET = new TextEncoder().encode('gateway test secret');
const quiet = (self: string): PeerIdentity => ({ self, secret: SECRET, log: () => undefined });

/** "Process" `self` hosting node thread `mine` of threads 1..2, linked to `peer` hosting the other. */
async function process_(self: string, mine: 1 | 2): Promise<{ system: ActorSystem; listener: PeerListener; connect(peer: string, port: number): PeerOutbound }> {
  let outbound: PeerOutbound | undefined;
  const system = await ActorSystem.start({
    threads: 2,
    modules: [MODULE],
    spawn: { [mine]: [{ kind: 'echo', id: 'e' }] },
    remote: { threads: [mine === 1 ? 2 : 1], forward: (env) => outbound?.send(env) ?? false },
    sink: () => undefined,
  });
  const listener = await PeerListener.listen(quiet(self), '127.0.0.1', 0, (envs) => system.fromPeer(envs));
  return {
    system,
    listener,
    connect: (peer, port) => (outbound = new PeerOutbound(quiet(self), peer, { host: '127.0.0.1', port })),
  };
}

describe('runtime: node threads of other processes, through the main thread and a peer link', function () {
  this.timeout(30_000);

  it('places remote threads on the main thread and the others round robin', () => {
    expect(placeThreads(5, 2)).to.deep.equal([0, 1, 2, 1, 2, 1]);
    expect(placeThreads(5, 2, new Set([2, 3]))).to.deep.equal([0, 1, 0, 0, 2, 1]);
    expect(() => placeThreads(3, 2, new Set([1, 2]))).to.throw(/1\.\.1 workers/);
  });

  it('answers an ask across the link, keeps order, refuses the main thread a remote node, and drops what it does not host', async () => {
    const a = await process_('pa', 1);
    const b = await process_('pb', 2);
    const links = [a.connect('pb', b.listener.port), b.connect('pa', a.listener.port)];
    try {
      // The actor on pa's node asks the actor on pb's node; the answer comes back the same way.
      const answer = await a.system.ask<{ via: unknown; answer: unknown }>({ thread: 1, id: 'e' }, { type: 'forward', to: { thread: 2, id: 'e' }, value: 'across' }, 10_000);
      expect(answer).to.deep.equal({ via: { thread: 1, id: 'e' }, answer: 'across' });
      // And the other way.
      const back = await b.system.ask<{ answer: unknown }>({ thread: 2, id: 'e' }, { type: 'forward', to: { thread: 1, id: 'e' }, value: 42 }, 10_000);
      expect(back.answer).to.equal(42);
      // Many asks in flight at once, each answered with its own value.
      const many = await Promise.all(Array.from({ length: 300 }, (_, i) => a.system.ask<{ answer: number }>({ thread: 1, id: 'e' }, { type: 'forward', to: { thread: 2, id: 'e' }, value: i }, 10_000)));
      expect(many.map((m) => m.answer)).to.deep.equal(Array.from({ length: 300 }, (_, i) => i));
      await expectRejects(a.system.ask({ thread: 2, id: 'e' }, { type: 'echo', value: 1 }), InvalidRequestError, /hosted by another process/);
      expect(() => a.system.send({ thread: 2, id: 'e' }, { type: 'add', n: 1 })).to.throw(/hosted by another process/);
      // A peer that thinks we host its own thread, or thread 0: dropped and counted, nothing delivered.
      b.system.fromPeer([{ k: EnvelopeKind.Send, to: 'e', tt: 1, ft: 2, fi: 'e', a: 0, m: { type: 'add', n: 1 } }]);
      b.system.fromPeer([{ k: EnvelopeKind.Send, to: 'e', tt: 0, ft: 1, fi: 'e', a: 0, m: { type: 'add', n: 1 } }]);
      expect(b.system.peerDrops).to.equal(2);
    } finally {
      for (const link of links) link.close();
      for (const p of [a, b]) {
        await p.listener.close();
        await p.system.shutdown();
      }
    }
  });
});

async function expectRejects(promise: Promise<unknown>, type: new (...args: never[]) => Error, message: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(type);
    expect((err as Error).message).to.match(message);
    return;
  }
  expect.fail('expected a rejection');
}
