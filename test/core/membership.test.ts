import { expect } from 'chai';
import fc from 'fast-check';
import { GOSSIP_DELTAS_MAX_ENTRIES, MEMBERS_MAX } from '../../src/core/limits.js';
import {
  chooseRandom,
  compareClaims,
  mergeEntries,
  MembershipTable,
  type MemberEntry,
  type MemberStatus,
} from '../../src/core/membership.js';
import { Prng, seedFrom } from '../../src/core/prng.js';

const SEED = seedFrom(process.env['SEED'], 0x4d454d42);

/** An entry whose owner-written fields are a function of (id, incarnation, heartbeat), as the ownership rule guarantees. */
function entry(id: string, incarnation: number, heartbeat: number, status: MemberStatus = 'alive'): MemberEntry {
  return {
    id,
    address: { thread: (incarnation * 31 + heartbeat) % 7 },
    data_center: 'dc1',
    rack: `r${incarnation}`,
    heartbeat,
    incarnation,
    status,
    tokens: [incarnation, heartbeat],
  };
}

const claim = (e: MemberEntry) => ({ incarnation: e.incarnation, status: e.status, heartbeat: e.heartbeat });

describe('core/membership', () => {
  console.log(`    membership tests SEED=${SEED}`);

  describe('merge precedence (table)', () => {
    // [local, received] → merged claim, as "incarnation status heartbeat".
    const rows: ReadonlyArray<[local: [number, MemberStatus, number], received: [number, MemberStatus, number], merged: string, why: string]> = [
      [[1, 'alive', 5], [1, 'alive', 9], '1 alive 9', 'same incarnation: the higher heartbeat'],
      [[1, 'alive', 9], [1, 'alive', 5], '1 alive 9', 'an older heartbeat changes nothing'],
      [[1, 'alive', 9], [1, 'suspect', 5], '1 suspect 9', 'same incarnation: suspect overrides alive (heartbeat kept by max)'],
      [[1, 'suspect', 5], [1, 'alive', 9], '1 suspect 9', 'alive at the same incarnation does not refute a suspicion'],
      [[1, 'suspect', 5], [1, 'down', 5], '1 down 5', 'same incarnation: down overrides suspect'],
      [[1, 'down', 5], [1, 'suspect', 5], '1 down 5', 'suspect does not undo down'],
      [[1, 'suspect', 5], [2, 'alive', 0], '2 alive 0', 'a higher incarnation alive refutes a suspicion'],
      [[1, 'down', 5], [2, 'alive', 0], '2 alive 0', 'a higher incarnation alive overrides down (the member came back)'],
      [[2, 'alive', 3], [1, 'down', 50], '2 alive 3', 'a claim about an older incarnation loses whatever it says'],
      [[3, 'left', 7], [3, 'alive', 99], '3 left 99', 'a left tombstone is not revived by stale gossip at its incarnation (heartbeat by max)'],
      [[3, 'left', 7], [2, 'alive', 99], '3 left 7', '... nor at an older incarnation'],
      [[3, 'left', 7], [4, 'alive', 0], '4 alive 0', 'rejoin needs a higher incarnation'],
      [[3, 'down', 7], [3, 'left', 7], '3 left 7', 'left is final for its incarnation'],
    ];
    for (const [l, r, merged, why] of rows) {
      it(`${l.join(' ')} ⊔ ${r.join(' ')} = ${merged} (${why})`, () => {
        const local = entry('m', l[0], l[2], l[1]);
        const received = entry('m', r[0], r[2], r[1]);
        const out = mergeEntries(local, received);
        expect(`${out.incarnation} ${out.status} ${out.heartbeat}`).to.equal(merged);
        // The table agrees with the pure join.
        const table = new MembershipTable(entry('self', 0, 0), 0);
        table.apply(local, 0);
        table.apply(received, 1);
        expect(claim(table.get('m')!.entry)).to.deep.equal(claim(out));
      });
    }
  });

  describe('merge properties', () => {
    const arbitraryEntry = fc
      .record({ incarnation: fc.integer({ min: 0, max: 3 }), heartbeat: fc.integer({ min: 0, max: 6 }), status: fc.constantFrom<MemberStatus>('alive', 'suspect', 'down', 'left') })
      .map((c) => entry('m', c.incarnation, c.heartbeat, c.status));

    it('is commutative, associative and idempotent', () => {
      fc.assert(
        fc.property(arbitraryEntry, arbitraryEntry, arbitraryEntry, (a, b, c) => {
          expect(mergeEntries(a, b)).to.deep.equal(mergeEntries(b, a));
          expect(mergeEntries(mergeEntries(a, b), c)).to.deep.equal(mergeEntries(a, mergeEntries(b, c)));
          expect(mergeEntries(a, a)).to.deep.equal(a);
          expect(mergeEntries(mergeEntries(a, b), b)).to.deep.equal(mergeEntries(a, b));
        }),
      );
    });

    it('is monotonic: the merged claim is never older than either input', () => {
      fc.assert(
        fc.property(arbitraryEntry, arbitraryEntry, (a, b) => {
          const m = mergeEntries(a, b);
          return compareClaims(m, a) >= 0 && compareClaims(m, b) >= 0;
        }),
      );
    });

    it('gives the same view whatever order gossip arrives in, and replays change nothing', () => {
      const gossip = fc.array(
        fc.record({ id: fc.constantFrom('a', 'b', 'c'), incarnation: fc.integer({ min: 0, max: 2 }), heartbeat: fc.integer({ min: 0, max: 4 }), status: fc.constantFrom<MemberStatus>('alive', 'suspect', 'down', 'left') }),
        { maxLength: 20 },
      );
      fc.assert(
        fc.property(gossip, fc.infiniteStream(fc.nat()), (updates, stream) => {
          const entries = updates.map((u) => entry(u.id, u.incarnation, u.heartbeat, u.status));
          const shuffled = chooseRandom(entries, entries.length, () => (stream.next().value % 1000) / 1000);
          const view = (list: MemberEntry[]) => {
            const table = new MembershipTable(entry('self', 0, 0), 0);
            list.forEach((e, i) => table.apply(e, i));
            return table.all().map((r) => r.entry).sort((x, y) => (x.id < y.id ? -1 : 1));
          };
          const once = view(entries);
          expect(view(shuffled)).to.deep.equal(once);
          expect(view([...entries, ...shuffled])).to.deep.equal(once);
        }),
      );
    });
  });

  describe('MembershipTable', () => {
    it('refutes a suspicion or a death claimed about itself by raising its incarnation', () => {
      const table = new MembershipTable(entry('self', 2, 10), 0);
      expect(table.apply(entry('self', 1, 50, 'suspect'), 1)).to.equal('unchanged'); // about an older incarnation
      expect(table.apply(entry('self', 2, 10, 'suspect'), 2)).to.equal('refuted');
      expect(claim(table.self())).to.deep.equal({ incarnation: 3, status: 'alive', heartbeat: 10 });
      expect(table.apply(entry('self', 3, 11, 'down'), 3)).to.equal('refuted');
      expect(claim(table.self())).to.deep.equal({ incarnation: 4, status: 'alive', heartbeat: 11 });
      expect(table.apply(entry('self', 4, 12), 4)).to.equal('updated'); // a restart may have lost our heartbeat
      expect(table.self().heartbeat).to.equal(12);
    });

    it('keeps a left tombstone until it expires, then forgets it', () => {
      const table = new MembershipTable(entry('self', 0, 0), 0);
      table.apply(entry('gone', 1, 5, 'left'), 1000);
      expect(table.apply(entry('gone', 1, 6), 2000)).to.equal('updated'); // heartbeat max, status stays left
      expect(table.get('gone')!.entry.status).to.equal('left');
      expect(table.liveIds()).to.deep.equal([]);
      expect(table.expireTombstones(2000 + 9_999, 10_000)).to.deep.equal([]);
      expect(table.expireTombstones(2000 + 10_000, 10_000)).to.deep.equal(['gone']);
      expect(table.get('gone')).to.equal(undefined);
    });

    it('moves a status only forward locally, and finds members whose heartbeat stopped growing', () => {
      const table = new MembershipTable(entry('self', 0, 0), 0);
      table.apply(entry('a', 0, 1), 0);
      table.apply(entry('b', 0, 1), 0);
      table.apply(entry('a', 0, 2), 900); // a's heartbeat grew at 900
      expect(table.staleIds(1000, 1000)).to.deep.equal(['b']);
      expect(table.raiseStatus('b', 'suspect', 1000)).to.equal(true);
      expect(table.raiseStatus('b', 'alive', 1001)).to.equal(false);
      expect(table.staleIds(1900, 1000)).to.deep.equal(['a', 'b']);
      table.beat(2000);
      expect(table.self().heartbeat).to.equal(1);
    });

    it('answers a digest with newer entries, most recently changed first, bounded, and asks for what the peer has newer', () => {
      const table = new MembershipTable(entry('self', 0, 0), 0);
      for (let i = 0; i < 100; i++) table.apply(entry(`m${String(i).padStart(3, '0')}`, 0, 1), i + 1);
      const peerDigest = [
        { id: 'm099', incarnation: 0, status: 'alive' as const, heartbeat: 1 }, // equal: not sent
        { id: 'm098', incarnation: 0, status: 'alive' as const, heartbeat: 0 }, // older there: sent
        { id: 'm097', incarnation: 1, status: 'alive' as const, heartbeat: 0 }, // newer there: wanted
        { id: 'zz', incarnation: 0, status: 'alive' as const, heartbeat: 0 }, // unknown here: wanted
      ];
      const deltas = table.deltasFor(peerDigest);
      expect(deltas).to.have.length(GOSSIP_DELTAS_MAX_ENTRIES);
      expect(deltas.map((e) => e.id).slice(0, 3)).to.deep.equal(['m098', 'm096', 'm095']);
      expect(deltas.map((e) => e.id)).to.not.include('m099');
      expect(table.wantedFrom(peerDigest)).to.deep.equal(['m097', 'zz']);
      expect(table.deltasFor(peerDigest, 2).map((e) => e.id)).to.deep.equal(['m098', 'm096']);
      expect(table.recentEntries(3).map((e) => e.id)).to.deep.equal(['m099', 'm098', 'm097']);
    });

    it('refuses members beyond MEMBERS_MAX', () => {
      const table = new MembershipTable(entry('self', 0, 0), 0);
      for (let i = 1; i < MEMBERS_MAX; i++) expect(table.apply(entry(`m${i}`, 0, 0), 0)).to.equal('added');
      expect(table.apply(entry('one-too-many', 0, 0), 0)).to.equal('table_full');
      expect(table.size()).to.equal(MEMBERS_MAX);
    });

    it('chooses k distinct random live peers, never itself or a down member', () => {
      const table = new MembershipTable(entry('self', 0, 0), 0);
      for (const id of ['a', 'b', 'c', 'd']) table.apply(entry(id, 0, 0), 0);
      table.apply(entry('dead', 0, 0, 'down'), 0);
      const prng = new Prng(SEED);
      const seen = new Set<string>();
      for (let i = 0; i < 200; i++) {
        const peers = table.choosePeers(2, () => prng.next());
        expect(new Set(peers).size).to.equal(2);
        peers.forEach((p) => seen.add(p));
      }
      expect([...seen].sort()).to.deep.equal(['a', 'b', 'c', 'd']);
      expect(table.choosePeers(8, () => prng.next())).to.have.length(4);
      expect(() => table.choosePeers(9, () => prng.next())).to.throw(/GOSSIP_FANOUT_MAX/);
    });
  });

  describe('gossip convergence (pure, in memory, seeded)', () => {
    /** One push-pull exchange: a sends its digest, b answers with deltas and wants, a sends what b wanted. */
    function exchange(a: MembershipTable, b: MembershipTable, now_ms: number): void {
      const digestA = a.digest();
      const toA = b.deltasFor(digestA);
      const wantedByB = b.wantedFrom(digestA);
      for (const e of toA) a.apply(e, now_ms);
      for (const e of a.entriesFor(wantedByB)) b.apply(e, now_ms);
    }

    /** Rounds until `done`, each node gossiping with one random live peer per round. */
    function roundsUntil(tables: MembershipTable[], prng: Prng, done: () => boolean, max_rounds: number): number {
      const byId = new Map(tables.map((t) => [t.self_id, t]));
      for (let round = 1; round <= max_rounds; round++) {
        for (const table of tables) {
          table.beat(round * 1000);
          for (const peer of table.choosePeers(1, () => prng.next())) exchange(table, byId.get(peer)!, round * 1000);
        }
        if (done()) return round;
      }
      return Infinity;
    }

    for (const n of [5, 16, 64]) {
      it(`${n} members joining through one seed all know each other within 3·log2(n) rounds, and a late joiner is known within 3·log2(n)`, () => {
        const prng = new Prng(SEED + n);
        const bound = Math.ceil(3 * Math.log2(n));
        const seed = new MembershipTable(entry('n0', 0, 0), 0);
        const tables = [seed];
        for (let i = 1; i < n; i++) {
          const table = new MembershipTable(entry(`n${i}`, 0, 0), 0);
          table.apply(seed.self(), 0); // joining: every new node knows the seed
          tables.push(table);
        }
        const rounds = roundsUntil(tables, prng, () => tables.every((t) => t.size() === n), 10 * bound);
        expect(rounds, `all-to-all knowledge took ${rounds} rounds (bound ${bound})`).to.be.at.most(bound);

        const late = new MembershipTable(entry('late', 0, 0), 0);
        late.apply(seed.self(), 0);
        tables.push(late);
        const joinRounds = roundsUntil(tables, prng, () => tables.every((t) => t.get('late') !== undefined), 10 * bound);
        console.log(`      n=${n}: everyone knew everyone after ${rounds} rounds, the late joiner after ${joinRounds} (bound ${bound})`);
        expect(joinRounds, `the late joiner spread in ${joinRounds} rounds (bound ${bound})`).to.be.at.most(bound);
      });
    }
  });
});
