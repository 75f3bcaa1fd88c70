/**
 * Messages larger than one ring frame, and larger than the whole ring,
 * between real worker threads: they cross as fragments between the small
 * messages sent before and after them, and every message arrives whole and
 * in the order it was sent (the actors rely on FIFO per pair of threads).
 */
import { expect } from 'chai';
import { RING_CAPACITY_BYTES, RING_FRAME_MAX_BYTES, RING_MESSAGE_MAX_BYTES, VALUE_MAX_BYTES } from '../../src/core/limits.js';
import type { ActorRef } from '../../src/runtime/actor.js';
import { ActorSystem } from '../../src/runtime/actor_system.js';
import { payload, type Seen } from './large_message_actors.js';

const MODULE = new URL('./large_message_actors.js', import.meta.url).href;
const MiB = 1024 * 1024;

/** Sizes of a run: small messages around large ones of every kind, more than one batch, over one message limit per batch. */
function plan(): number[] {
  const small = (n: number, from: number): number[] => Array.from({ length: n }, (_, i) => 1 + ((from + i) * 37) % 200);
  const nearFrame = Array.from({ length: 17 }, (_, i) => RING_FRAME_MAX_BYTES - 64 + i * 8);
  return [
    ...small(50, 0),
    RING_FRAME_MAX_BYTES + 1,
    ...small(10, 50),
    ...nearFrame,
    ...small(10, 60),
    3 * RING_CAPACITY_BYTES + 5,
    ...small(1, 70),
    VALUE_MAX_BYTES,
    ...small(1, 71),
    VALUE_MAX_BYTES + 4096,
    ...small(1, 72),
    2 * MiB,
    ...small(300, 73),
    MiB + 3,
    ...small(20, 373),
  ];
}

describe('runtime: messages larger than a ring frame (real worker threads)', function () {
  this.timeout(60_000);
  let system: ActorSystem;
  const sender: ActorRef = { thread: 1, id: 'sender' };
  const receiver: ActorRef = { thread: 2, id: 'receiver' };

  before(async () => {
    system = await ActorSystem.start({
      threads: 2,
      modules: [MODULE],
      spawn: { 1: [{ kind: 'large', id: 'sender' }], 2: [{ kind: 'large', id: 'receiver' }] },
      sink: () => undefined,
    });
  });

  after(async () => {
    await system.shutdown();
  });

  it('the plan crosses every boundary it means to', () => {
    const sizes = plan();
    expect(sizes.some((s) => s > RING_CAPACITY_BYTES), 'one message is larger than the ring').to.equal(true);
    expect(sizes.slice(0, 256).reduce((a, b) => a + b, 0), 'the first batch is over one message limit').to.be.greaterThan(RING_MESSAGE_MAX_BYTES);
    expect(sizes.length, 'more than one batch').to.be.greaterThan(256);
  });

  it('carries large messages between two workers, interleaved with small ones, whole and in order', async () => {
    const sizes = plan();
    const accepted = await system.ask<number>(sender, { type: 'blast', to: receiver, sizes }, 30_000);
    expect(accepted).to.equal(sizes.length);
    let seen: Seen[] = [];
    for (let i = 0; i < 200 && seen.length < sizes.length; i++) {
      seen = await system.ask<Seen[]>(receiver, { type: 'seen' }, 30_000);
      if (seen.length < sizes.length) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(seen.map((s) => s.seq)).to.deep.equal(sizes.map((_, i) => i));
    expect(seen.map((s) => s.size)).to.deep.equal(sizes);
    expect(seen.filter((s) => !s.intact).map((s) => s.seq), 'items with damaged bytes').to.deep.equal([]);
    for (const thread of [1, 2]) {
      const stats = await system.hostStats(thread);
      expect(stats.deadLetters, `dead letters on thread ${thread}`).to.equal(0);
      expect(stats.corruptFrames, `corrupt frames on thread ${thread}`).to.equal(0);
    }
  });

  it('carries a large ask from the main thread and a large answer back', async () => {
    const before = (await system.ask<Seen[]>(receiver, { type: 'seen' })).length;
    expect(system.send(receiver, { type: 'item', seq: 1000, bytes: payload(1000, 5 * MiB) })).to.equal(true);
    expect(system.send(receiver, { type: 'item', seq: 1001, bytes: payload(1001, 3) })).to.equal(true);
    const answer = await system.ask<Uint8Array>(receiver, { type: 'make', seq: 9, size: RING_CAPACITY_BYTES * 2 + 1 }, 30_000);
    expect(answer.length).to.equal(RING_CAPACITY_BYTES * 2 + 1);
    expect(Buffer.from(answer).equals(Buffer.from(payload(9, RING_CAPACITY_BYTES * 2 + 1)))).to.equal(true);
    const seen = (await system.ask<Seen[]>(receiver, { type: 'seen' })).slice(before);
    expect(seen).to.deep.equal([
      { seq: 1000, size: 5 * MiB, intact: true },
      { seq: 1001, size: 3, intact: true },
    ]);
  });
});
