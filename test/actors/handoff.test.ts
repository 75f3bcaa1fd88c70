/**
 * The hinted-handoff actor on real worker threads with the LMDB hint store:
 * hints taken on thread 1 (member n1) for member n2 reach thread 2's replica
 * after `replay-now`, are deleted, and survive a restart of the whole system
 * until then.
 */
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { encodeDvv } from '../../src/core/dotted_version_vector.js';
import { ActorSystem } from '../../src/runtime/actor_system.js';
import type { HandoffStats, HintsPending } from '../../actors/handoff.js';
import { handoffRef, replicaRef } from '../../actors/member_refs.js';
import type { Version } from '../../storage/version.js';

const utf8 = new TextEncoder();
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Version `i`: a distinct dot, so versions of one key are concurrent siblings. */
function versionOf(i: number): Version {
  return { clock: encodeDvv({ dot: { actor: 'n9#epoch1', counter: i + 1, ts_ms: 0 }, past: [] }), value: utf8.encode(`value-${i}`), ts_ms: Date.now() };
}

const HINTS = 50;
const keyOf = (i: number): Uint8Array => utf8.encode(`key-${i % 20}`);

describe('actors/handoff (real worker threads, LMDB hint store)', function () {
  this.timeout(60_000);
  let dir = '';

  /** Nodes n1 and n2, each a replica and a handoff actor; ticks far apart so only `replay-now` replays. */
  function start(): Promise<ActorSystem> {
    const node = (n: number) => [
      { kind: 'replica', id: 'replica', args: { dir: join(dir, `n${n}`, 'data') } },
      { kind: 'handoff', id: 'handoff', args: { self: `n${n}`, dir: join(dir, `n${n}`, 'hints'), interval_ms: 3_600_000 } },
    ];
    return ActorSystem.start({
      threads: 2,
      modules: [new URL('../../actors/replica.js', import.meta.url).href, new URL('../../actors/handoff.js', import.meta.url).href],
      spawn: { 1: node(1), 2: node(2) },
    });
  }

  before(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ringkv-handoff-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps hints durably across a restart and delivers them to the owner replica on replay-now', async () => {
    let system = await start();
    try {
      const acks = await Promise.all(
        Array.from({ length: HINTS }, (_, i) =>
          system.ask(handoffRef('n1'), { type: 'hint', owner: 'n2', key: keyOf(i), versions: [versionOf(i)] }, 20_000),
        ),
      );
      expect(acks).to.deep.equal(Array(HINTS).fill(true));
      const pending = await system.ask<HintsPending>(handoffRef('n1'), { type: 'hints-pending' });
      expect(pending.total).to.equal(HINTS);
      expect(pending.byOwner).to.deep.equal({ n2: HINTS });
      expect(pending.bytes).to.be.greaterThan(0);
      // Nothing was replayed yet: the owner has none of it.
      expect(await system.ask<Version[]>(replicaRef('n2'), { type: 'get', key: keyOf(0) })).to.deep.equal([]);
    } finally {
      await system.shutdown();
    }

    system = await start();
    try {
      const kept = await system.ask<HintsPending>(handoffRef('n1'), { type: 'hints-pending' });
      expect(kept.total, 'hints survive a restart of their holder').to.equal(HINTS);
      const delivered = await system.ask<number>(handoffRef('n1'), { type: 'replay-now', owner: 'n2' }, 30_000);
      expect(delivered).to.equal(HINTS); // one round: HINTS <= HINT_REPLAY_BATCH
      expect(await system.ask<HintsPending>(handoffRef('n1'), { type: 'hints-pending' })).to.deep.equal({ total: 0, bytes: 0, byOwner: {} });
      const stats = await system.ask<HandoffStats>(handoffRef('n1'), { type: 'stats' });
      expect(stats).to.deep.equal({ stored: 0, delivered: HINTS, refused: 0, expired: 0, failedRounds: 0 });
      for (let i = 0; i < HINTS; i++) {
        const got = await system.ask<Version[]>(replicaRef('n2'), { type: 'get', key: keyOf(i) });
        expect(got.map((v) => hex(v.clock)), `key ${i % 20} holds version ${i}`).to.include(hex(versionOf(i).clock));
      }
      const siblings = await system.ask<Version[]>(replicaRef('n2'), { type: 'get', key: keyOf(0) });
      expect(siblings.length, 'concurrent hinted versions are kept as siblings').to.equal(Math.ceil(HINTS / 20));
      expect(await system.ask<number>(handoffRef('n1'), { type: 'replay-now' }), 'nothing left').to.equal(0);
    } finally {
      await system.shutdown();
    }
  });

  it('answers a hint for its own node with an assertion error', async () => {
    const system = await start();
    try {
      let failure: unknown;
      try {
        await system.ask(handoffRef('n2'), { type: 'hint', owner: 'n2', key: keyOf(0), versions: [versionOf(0)] });
      } catch (err) {
        failure = err;
      }
      expect((failure as Error | undefined)?.message).to.match(/never holds hints for itself/);
    } finally {
      await system.shutdown();
    }
  });
});
