import { expect } from 'chai';
import { ACTOR_ID_CACHE_MAX } from '../../src/core/limits.js';
import fc from 'fast-check';
import {
  actorId,
  actorNode,
  compare,
  decodeContext,
  decodeDvv,
  descends,
  dottedVersionVectorOrder,
  encodeContext,
  encodeDvv,
  join,
  prune,
  sync,
  syncBy,
  TOMBSTONE_DIGEST,
  update,
  valueDigest,
  type Dvv,
  type VersionVector,
} from '../../src/core/dotted_version_vector.js';
import { InvalidRequestError } from '../../src/core/errors.js';
import { hash32 } from '../../src/core/hash.js';
import { __plantBugForTests } from '../../src/core/planted_bugs.js';
import { mintWrite, reconcileSets, isStale } from '../../src/core/sibling_set.js';
import { VCLOCK_ENTRIES_MAX } from '../../src/core/limits.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { reconcile, type Version } from '../../storage/version.js';

const SEED = seedFrom(process.env['SEED'], Date.now());

/** "actor:counter" of a version's dot. */
const dotOf = (v: Dvv): string => `${v.dot.actor}:${v.dot.counter}`;
const dots = (vs: readonly Dvv[]): string[] => vs.map(dotOf).sort();

/** A coordinator write at a replica holding `store`: the new store and the new version. */
function put(store: readonly Dvv[], context: VersionVector, actor: string, now_ms = 0, digest?: number): { store: Dvv[]; version: Dvv } {
  const version = update(context, store, actor, now_ms, 0, digest);
  return { store: sync(store, [version]), version };
}

describe('core/dotted_version_vector', () => {
  before(() => console.log(`      SEED=${SEED} (replay with SEED=${SEED})`));

  describe("the paper's examples, one replica 'a' (siblings after each step)", () => {
    // Each step: a client reads ('get': its context becomes the join of the
    // replica's siblings), writes with its last read context ('put'), or
    // writes with no context at all ('blind').
    type Step = [client: string, op: 'get' | 'put' | 'blind', siblings: string[]];
    const rows: ReadonlyArray<[name: string, steps: Step[]]> = [
      ['two blind writes make 2 siblings', [['c1', 'blind', ['a:1']], ['c2', 'blind', ['a:1', 'a:2']]]],
      [
        'a write with the joined context resolves them to 1',
        [['c1', 'blind', ['a:1']], ['c2', 'blind', ['a:1', 'a:2']], ['c1', 'get', ['a:1', 'a:2']], ['c1', 'put', ['a:3']]],
      ],
      [
        'two clients interleaving get and put stay at 2 siblings (no sibling explosion)',
        [
          ['c1', 'get', []],
          ['c2', 'get', []],
          ['c1', 'put', ['a:1']],
          ['c2', 'put', ['a:1', 'a:2']],
          ['c1', 'get', ['a:1', 'a:2']],
          ['c2', 'get', ['a:1', 'a:2']],
          ['c1', 'put', ['a:3']],
          ['c2', 'put', ['a:3', 'a:4']],
          ['c1', 'get', ['a:3', 'a:4']],
          ['c2', 'get', ['a:3', 'a:4']],
          ['c1', 'put', ['a:5']],
          ['c2', 'put', ['a:5', 'a:6']],
        ],
      ],
      [
        'a stale context supersedes only what it saw (a:3 keeps a:2, which c1 never read)',
        [['c1', 'blind', ['a:1']], ['c1', 'get', ['a:1']], ['c2', 'get', ['a:1']], ['c2', 'put', ['a:2']], ['c1', 'put', ['a:2', 'a:3']]],
      ],
    ];
    for (const [name, steps] of rows) {
      it(name, () => {
        let store: Dvv[] = [];
        const readContext = new Map<string, VersionVector>();
        for (const [client, op, expected] of steps) {
          if (op === 'get') readContext.set(client, join(store));
          else store = put(store, op === 'blind' ? [] : (readContext.get(client) ?? []), 'a').store;
          expect(dots(store), `after ${client} ${op}`).to.deep.equal(expected);
        }
      });
    }
  });

  it('concurrent writes at different coordinators are siblings; a write with the joined context resolves them', () => {
    const atA = put([], [], 'a');
    const atB = put([], [], 'b');
    const merged = sync(atA.store, atB.store);
    expect(dots(merged)).to.deep.equal(['a:1', 'b:1']);
    expect(compare(atA.version, atB.version)).to.equal('concurrent');
    const resolved = put(atB.store, join(merged), 'b');
    expect(dots(sync(merged, resolved.store))).to.deep.equal(['b:2']);
    expect(descends(resolved.version, atA.version)).to.equal(true);
    expect(compare(atA.version, resolved.version)).to.equal('before');
    expect(compare(resolved.version, atA.version)).to.equal('after');
    expect(compare(resolved.version, resolved.version)).to.equal('equal');
  });

  it('the new counter is above every counter of the actor the coordinator holds (dots and pasts)', () => {
    const v1 = put([], [], 'a').version; // a:1
    const v2 = put([v1], join([v1]), 'b').version; // b:1, past a:1 (v1 superseded)
    expect(update([], [v2], 'a').dot.counter).to.equal(2);
    expect(update([], [], 'a', 0, 7).dot.counter, 'counterFloor').to.equal(8);
  });

  describe('sync over versions from random valid histories', () => {
    it('is commutative, idempotent and associative, and storage reconcile keeps exactly its result', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 0x7fffffff }).chain((seed) => {
            const pool = randomPool(new Prng(seed), 25);
            return fc.tuple(fc.subarray(pool), fc.subarray(pool), fc.subarray(pool));
          }),
          ([a, b, c]) => {
            expect(sync(a, b)).to.deep.equal(sync(b, a));
            expect(sync(a, a)).to.deep.equal(sync(a, []));
            expect(sync(sync(a, b), c)).to.deep.equal(sync(a, sync(b, c)));
            const stored: Version[] = [...a, ...a.slice(0, 2)].map((v) => ({ clock: encodeDvv(v), value: null, ts_ms: 0 }));
            const kept = reconcile(dottedVersionVectorOrder, stored).map((s) => decodeDvv(s.clock));
            expect(dots(kept)).to.deep.equal(dots(sync(a, [])));
          },
        ),
        { numRuns: 200, seed: SEED | 0 },
      );
    });
  });

  it('the two-version path of sync agrees with the general one (a third, repeated copy takes the general path)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x7fffffff }).chain((seed) => {
          const pool = randomPool(new Prng(seed), 25);
          return fc.tuple(fc.constantFrom(...pool), fc.constantFrom(...pool));
        }),
        ([x, y]) => {
          const conflicts: number[] = [];
          const fast = sync([x], [y], () => conflicts.push(1));
          const general = sync([x, y, x], [], () => conflicts.push(2));
          expect(fast).to.deep.equal(general);
          expect(conflicts.filter((c) => c === 1).length).to.equal(conflicts.filter((c) => c === 2).length);
          expect(sync([x, y], []), 'both on one side').to.deep.equal(general);
          expect(sync([], [x, y]), 'both on the other side').to.deep.equal(general);
          expect(sync([x], [])).to.deep.equal(sync([x, x, x], []));
        },
      ),
      { numRuns: 500, seed: SEED | 0 },
    );
  });

  it('no sibling explosion: siblings at every replica are exactly the concurrent writes of a causal model', () => {
    for (let run = 0; run < 40; run++) {
      const seed = (SEED + run) >>> 0;
      checkAgainstModel(new Prng(seed), 300, `seed ${seed}`);
    }
  });

  describe('pruning', () => {
    const vv = (n: number): VvEntries => Array.from({ length: n }, (_, i) => ({ actor: `x${String(i).padStart(2, '0')}`, counter: 1, ts_ms: 100 + i }));
    type VvEntries = { actor: string; counter: number; ts_ms: number }[];

    it(`keeps at most VCLOCK_ENTRIES_MAX (${VCLOCK_ENTRIES_MAX}) entries, dropping the oldest first`, () => {
      const pruned = prune(vv(15), 'nobody');
      expect(pruned.map((e) => e.actor)).to.deep.equal(vv(15).slice(5).map((e) => e.actor));
      expect(prune(vv(VCLOCK_ENTRIES_MAX), 'nobody')).to.have.length(VCLOCK_ENTRIES_MAX);
    });

    it("never drops the entry of the version's own dot actor, even when it is the oldest", () => {
      const pruned = prune(vv(15), 'x00');
      expect(pruned).to.have.length(VCLOCK_ENTRIES_MAX);
      expect(pruned.map((e) => e.actor)).to.include('x00');
      expect(pruned.map((e) => e.actor)).to.not.include('x05');
      expect(update(vv(15), [], 'x00', 500).past.map((e) => e.actor)).to.include('x00');
    });

    it('a pruned entry makes a superseded version look concurrent (false sibling), never drops a write', () => {
      const old = put([], [], 'x00', 1).version; // x00:1, the oldest writer
      const context = join([old, ...vv(15).slice(1).map((e): Dvv => ({ dot: e, past: [] }))]);
      const next = update(context, [], 'y', 1000);
      expect(next.past).to.have.length(VCLOCK_ENTRIES_MAX);
      expect(compare(old, next)).to.equal('concurrent');
      expect(dots(sync([old], [next]))).to.deep.equal(['x00:1', 'y:1']);
    });
  });

  describe('encoding', () => {
    it('round-trips versions and contexts', () => {
      const pool = randomPool(new Prng(SEED), 40);
      for (const v of pool) {
        expect(decodeDvv(encodeDvv(v))).to.deep.equal(v);
        const ctx = join([v]);
        expect(decodeContext(encodeContext(ctx))).to.deep.equal(ctx);
        expect(dottedVersionVectorOrder.compare(encodeDvv(v), encodeDvv(v))).to.equal('equal');
      }
      expect(decodeContext(new Uint8Array(0)), 'zero bytes: no context').to.deep.equal([]);
    });

    const good = encodeDvv({ dot: { actor: 'a', counter: 2, ts_ms: 5 }, past: [{ actor: 'b', counter: 1, ts_ms: 4 }] });
    const patch = (at: number, byte: number): Uint8Array => Object.assign(new Uint8Array(good), { [at]: byte });
    const f64 = (bytes: Uint8Array, at: number, value: number): Uint8Array => {
      const copy = new Uint8Array(bytes);
      new DataView(copy.buffer).setFloat64(at, value, true);
      return copy;
    };
    const unsorted = encodeDvv({ dot: { actor: 'a', counter: 1, ts_ms: 0 }, past: [{ actor: 'b', counter: 1, ts_ms: 0 }, { actor: 'c', counter: 1, ts_ms: 0 }] });
    unsorted[unsorted.length - 17] = 'a'.charCodeAt(0); // past "b","c" → "b","a"
    const rows: ReadonlyArray<[string, () => unknown]> = [
      ['empty version bytes', () => decodeDvv(new Uint8Array(0))],
      ['wrong tag', () => decodeDvv(patch(0, 0x00))],
      ['a context given as a version', () => decodeDvv(encodeContext([{ actor: 'a', counter: 1, ts_ms: 0 }]))],
      ['a version given as a context', () => decodeContext(good)],
      ['truncated', () => decodeDvv(good.subarray(0, good.length - 1))],
      ['trailing bytes', () => decodeDvv(new Uint8Array([...good, 0]))],
      ['empty actor id', () => decodeDvv(patch(1, 0))],
      ['invalid UTF-8 actor id', () => decodeDvv(patch(2, 0xff))],
      ['zero counter', () => decodeDvv(f64(good, 3, 0))],
      ['fractional counter', () => decodeDvv(f64(good, 3, 1.5))],
      ['non-finite timestamp', () => decodeDvv(f64(good, 11, Number.NaN))],
      ['past not sorted by actor', () => decodeDvv(unsorted)],
      ['storage compare of garbage', () => dottedVersionVectorOrder.compare(good, new Uint8Array([1, 2, 3]))],
      ['a vector over CLOCK_MAX_BYTES', () => encodeContext(Array.from({ length: 300 }, (_, i) => ({ actor: `actor-${String(i).padStart(4, '0')}`, counter: 1, ts_ms: 0 })))],
    ];
    for (const [name, run] of rows) {
      it(`${name} → InvalidRequestError`, () => expect(run).to.throw(InvalidRequestError));
    }
  });

  it('actor ids survive the codec\'s caches: many ids (past the cache bound), non-ASCII ids, ids that share bytes', () => {
    const ids = Array.from({ length: ACTOR_ID_CACHE_MAX * 2 + 7 }, (_, i) => (i % 3 === 0 ? `nœud-${i}#epoch${i * 7}` : `n${i}#epoch${i}`));
    for (let round = 0; round < 2; round++) {
      for (const id of ids) {
        const dvv = { dot: { actor: id, counter: 1, ts_ms: 0 }, past: [{ actor: `${id}x`, counter: 2, ts_ms: 1 }] };
        expect(decodeDvv(encodeDvv(dvv))).to.deep.equal(dvv);
      }
    }
    // A cached id's bytes with one byte made invalid still fail as not UTF-8, however hot the cache.
    const hot = encodeDvv({ dot: { actor: 'é', counter: 1, ts_ms: 0 }, past: [] });
    expect(decodeDvv(hot).dot.actor).to.equal('é');
    const broken = new Uint8Array(hot);
    broken[3] = 0x28; // 'é' is c3 a9: c3 28 is not UTF-8
    expect(() => decodeDvv(broken)).to.throw(InvalidRequestError);
  });

  describe('identity and epochs', () => {
    it('actorId names a node incarnation', () => {
      expect(actorId('n2', 3)).to.equal('n2#epoch3');
      expect(actorNode(actorId('n2', 3))).to.equal('n2');
      expect(() => actorId('n#2', 0)).to.throw();
      expect(() => actorId('n2', -1)).to.throw();
    });

    it('a node back without its data under a new epoch keeps its new writes; reusing the old id would lose them', () => {
      const old = actorId('n2', 0);
      let store: Dvv[] = [];
      for (let i = 0; i < 3; i++) store = put(store, join(store), old).store; // n2#epoch0:3 elsewhere now
      const elsewhere = put(store, join(store), 'n1').store; // past covers n2#epoch0:3
      const reused = update([], [], old); // data lost, counters restart: n2#epoch0:1
      expect(dots(sync(elsewhere, [reused])), 'the reused dot is covered: the write vanishes').to.deep.equal(dots(elsewhere));
      const fresh = update([], [], actorId('n2', 1));
      expect(dots(sync(elsewhere, [fresh]))).to.deep.equal([...dots(elsewhere), 'n2#epoch1:1'].sort());
    });
  });
});

/** Clocks from a random run of writes and syncs over three replicas (no pruning happens). */
function randomPool(prng: Prng, writes: number): Dvv[] {
  const replicas: Dvv[][] = [[], [], []];
  const pool: Dvv[] = [];
  for (let i = 0; i < writes; i++) {
    const r = prng.int(3);
    const store = replicas[r]!;
    const from = replicas[prng.int(3)]!;
    const context = prng.chance(0.3) ? [] : join(from); // a whole sibling set, per the contract
    // Some dots carry no digest (clocks written before issue 12), some a tombstone's, most a value's.
    const digest = prng.chance(0.2) ? undefined : prng.chance(0.2) ? TOMBSTONE_DIGEST : prng.int(0x1_0000_0000);
    const { store: next, version } = put(store, context, `r${r}`, i, digest);
    replicas[r] = next;
    pool.push(version);
    if (prng.chance(0.4)) {
      const to = prng.int(3);
      replicas[to] = sync(replicas[to]!, next);
    }
  }
  return pool;
}

/**
 * Several clients write through three replicas (blind, with a read context,
 * or with the context of their own last write); coordinators replicate their
 * whole sibling set to some replicas; replicas sync pairwise. A model keeps
 * each write's true causal history as a set; every replica's siblings must be
 * exactly the writes no other held write has in its history.
 */
function checkAgainstModel(prng: Prng, steps: number, label: string): void {
  const replicaCount = 3;
  const stores: Dvv[][] = Array.from({ length: replicaCount }, () => []);
  const history = new Map<string, Set<string>>(); // write (dot) → its causal history, itself included
  const clients = Array.from({ length: 4 }, () => ({ context: [] as VersionVector, seen: new Set<string>() }));
  const modelSiblings = (ids: Iterable<string>): string[] => {
    const all = [...new Set(ids)];
    return all.filter((w) => !all.some((o) => o !== w && history.get(o)!.has(w))).sort();
  };
  const modelOf = stores.map(() => [] as string[]);
  for (let step = 0; step < steps; step++) {
    const r = prng.int(replicaCount);
    const client = prng.pick(clients);
    const roll = prng.int(10);
    if (roll < 3) {
      client.context = join(stores[r]!); // get
      client.seen = new Set(modelOf[r]!.flatMap((w) => [...history.get(w)!]));
    } else if (roll < 8) {
      const blind = roll === 3;
      const context = blind ? [] : client.context;
      const seen = blind ? new Set<string>() : client.seen;
      const { store, version } = put(stores[r]!, context, `r${r}`, step);
      const id = dotOf(version);
      history.set(id, new Set([...seen, id]));
      stores[r] = store;
      modelOf[r] = modelSiblings([...modelOf[r]!, id]);
      if (prng.chance(0.5)) {
        // The reply returns every sibling the coordinator now holds (Riak's
        // return_body) with their joined context; otherwise the client keeps
        // its old read context.
        client.context = join(store);
        client.seen = new Set(modelOf[r]!.flatMap((w) => [...history.get(w)!]));
      }
      for (let to = 0; to < replicaCount; to++) {
        if (to !== r && prng.chance(0.5)) {
          stores[to] = sync(stores[to]!, store);
          modelOf[to] = modelSiblings([...modelOf[to]!, ...modelOf[r]!]);
        }
      }
    } else {
      const to = prng.int(replicaCount);
      stores[to] = sync(stores[to]!, stores[r]!);
      modelOf[to] = modelSiblings([...modelOf[to]!, ...modelOf[r]!]);
    }
    for (let i = 0; i < replicaCount; i++) {
      expect(dots(stores[i]!), `${label}, step ${step}, replica r${i}`).to.deep.equal(modelOf[i]);
    }
  }
  expect(history.size, `${label}: the run wrote something`).to.be.greaterThan(50);
}

/** `syncBy` carries payloads through. */
describe('core/dotted_version_vector syncBy', () => {
  it('keeps the payload of each surviving version', () => {
    const a = put([], [], 'a').version;
    const b = update(join([a]), [a], 'a');
    const kept = syncBy([{ clock: a, value: 'old' }], [{ clock: b, value: 'new' }], (v) => v.clock);
    expect(kept.map((v) => v.value)).to.deep.equal(['new']);
  });
});

/** Issue 12, "Merges check what they merge": one dot names one value. */
describe('core/dotted_version_vector value digests', () => {
  afterEach(() => __plantBugForTests(null));

  /** Version `v` under the same dot, carrying `digest` instead (a dot minted twice). */
  const twin = (v: Dvv, digest: number | undefined): Dvv => {
    const dot = { actor: v.dot.actor, counter: v.dot.counter, ts_ms: v.dot.ts_ms + 1 };
    return { dot: digest === undefined ? dot : { ...dot, digest }, past: v.past };
  };
  const base = update([], [], 'a', 10, 0, valueDigest(new TextEncoder().encode('one')));

  it("a value's digest is its xxh32; a tombstone's is outside every u32, so no value collides with a delete", () => {
    const bytes = new TextEncoder().encode('value');
    expect(valueDigest(bytes)).to.equal(hash32(bytes));
    expect(valueDigest(null)).to.equal(TOMBSTONE_DIGEST);
    expect(TOMBSTONE_DIGEST).to.be.greaterThan(0xffff_ffff);
    expect(base.dot.digest).to.equal(hash32(new TextEncoder().encode('one')));
  });

  it('round-trips the digest under tag 0xD2 and writes a digest-less dot in the old 0xD1 layout', () => {
    for (const digest of [0, 1, 0xffff_ffff, TOMBSTONE_DIGEST]) {
      const v = twin(base, digest);
      const bytes = encodeDvv(v);
      expect(bytes[0]).to.equal(0xd2);
      expect(decodeDvv(bytes)).to.deep.equal(v);
    }
    const old = twin(base, undefined);
    const oldBytes = encodeDvv(old);
    expect(oldBytes[0], 'old layout').to.equal(0xd1);
    expect(oldBytes.length).to.equal(encodeDvv(base).length - 5);
    expect(decodeDvv(oldBytes).dot).to.not.have.property('digest');
  });

  it('rejects a digest that is neither a value\'s nor a tombstone\'s', () => {
    const bytes = encodeDvv(twin(base, 7));
    const kindAt = 1 + 1 + 1 + 16; // tag, len, "a", counter and ts
    expect(bytes[kindAt]).to.equal(1);
    const badKind = new Uint8Array(bytes);
    badKind[kindAt] = 3;
    expect(() => decodeDvv(badKind)).to.throw(InvalidRequestError, /digest kind 3/);
    const tombstoneWithHash = new Uint8Array(bytes);
    tombstoneWithHash[kindAt] = 2; // a tombstone's u32 must be 0; this one is 7
    expect(() => decodeDvv(tombstoneWithHash)).to.throw(InvalidRequestError);
    expect(() => decodeDvv(bytes.subarray(0, kindAt + 3))).to.throw(InvalidRequestError, /truncated/);
  });

  it("compare: one dot with two digests is 'conflict'; equal or absent digests are 'equal'", () => {
    expect(compare(base, twin(base, 99))).to.equal('conflict');
    expect(compare(base, twin(base, TOMBSTONE_DIGEST))).to.equal('conflict');
    expect(compare(base, twin(base, base.dot.digest))).to.equal('equal');
    expect(compare(base, twin(base, undefined)), 'an unchecked old clock').to.equal('equal');
    expect(dottedVersionVectorOrder.compare(encodeDvv(base), encodeDvv(twin(base, 99)))).to.equal('conflict');
    expect(descends(base, twin(base, 99))).to.equal(false);
    const later = update(join([base]), [base], 'a', 20, 0, 5);
    expect(compare(twin(base, 99), later), 'a write that saw the dot supersedes either copy').to.equal('before');
  });

  it('sync keeps both copies of a conflicting dot, reports the pair, and a covering write supersedes both', () => {
    const other = twin(base, 99);
    const reported: Array<[Dvv, Dvv]> = [];
    const kept = sync([base], [other], (x, y) => reported.push([x, y]));
    expect(kept.map((v) => v.dot.digest)).to.deep.equal([99, base.dot.digest].sort((x, y) => x! - y!));
    expect(reported).to.deep.equal([[base, other]]);
    expect(sync([other], [base])).to.deep.equal(kept);
    expect(sync(kept, [base]), 'idempotent: the same copy again is not a new conflict').to.deep.equal(kept);
    const later = update(join(kept), kept, 'b', 30, 0, 5);
    expect(sync(kept, [later])).to.deep.equal([later]);
  });

  it("an unchecked copy merges with a checked one without a report, keeping the checked copy", () => {
    const reported: unknown[] = [];
    expect(sync([twin(base, undefined)], [base], (x, y) => reported.push([x, y]))).to.deep.equal([base]);
    expect(sync([base], [twin(base, undefined)])).to.deep.equal([base]);
    expect(reported).to.deep.equal([]);
  });

  it("planted bug 'silent-same-dot-merge': compare ignores digests and sync silently keeps one copy", () => {
    __plantBugForTests('silent-same-dot-merge');
    const reported: unknown[] = [];
    expect(compare(base, twin(base, 99))).to.equal('equal');
    expect(sync([base], [twin(base, 99)], (x, y) => reported.push([x, y]))).to.deep.equal([base]);
    expect(reported).to.deep.equal([]);
  });

  it('property: with dots minted twice, sync stays commutative, associative and idempotent, drops no uncovered copy and reports each conflict', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x7fffffff }).chain((seed) => {
          const prng = new Prng(seed);
          const pool = randomPool(prng, 20);
          // Re-mint some dots for other values: the defect the digest exposes.
          const twins = pool.filter(() => prng.chance(0.3)).map((v) => twin(v, prng.int(0x1_0000_0000)));
          const all = [...pool, ...twins];
          return fc.tuple(fc.subarray(all), fc.subarray(all), fc.subarray(all));
        }),
        ([a, b, c]) => {
          const id = (v: Dvv): string => `${dotOf(v)}=${v.dot.digest ?? ''}`;
          expect(sync(a, b).map(id)).to.deep.equal(sync(b, a).map(id));
          expect(sync(a, a).map(id)).to.deep.equal(sync(a, []).map(id));
          expect(sync(sync(a, b), c).map(id)).to.deep.equal(sync(a, sync(b, c)).map(id));
          const conflicts = new Set<string>();
          const merged = sync(a, b, (x, y) => conflicts.add(dotOf(x)).add(dotOf(y)));
          const union = [...a, ...b];
          for (const v of union) {
            // Superseded copies may go, and an unchecked copy may merge into a checked one.
            if (union.some((w) => coversDotOf(w, v)) || v.dot.digest === undefined) continue;
            expect(merged.some((m) => dotOf(m) === dotOf(v) && m.dot.digest === v.dot.digest), `copy ${id(v)} kept`).to.equal(true);
          }
          for (const dot of new Set(merged.map(dotOf))) {
            const digests = new Set(merged.filter((m) => dotOf(m) === dot).map((m) => m.dot.digest));
            if (digests.size > 1) expect(conflicts.has(dot), `conflict on ${dot} reported`).to.equal(true);
          }
        },
      ),
      { numRuns: 200, seed: SEED | 0 },
    );
  });

  it('mintWrite stamps the digest of the value it writes (a tombstone\'s for a delete)', () => {
    const value = new TextEncoder().encode('v');
    const made = mintWrite([], [], 'a#epoch0', value, 5);
    expect(decodeDvv(made.version.clock).dot.digest).to.equal(hash32(value));
    const gone = mintWrite(made.siblings, [], 'a#epoch0', null, 6);
    expect(decodeDvv(gone.version.clock).dot.digest).to.equal(TOMBSTONE_DIGEST);
  });

  it('reconcileSets keeps both values of a dot minted twice, reports them, and read repair sees the gap', () => {
    const one = mintWrite([], [], 'a#epoch0', new TextEncoder().encode('one'), 5).version;
    const two = mintWrite([], [], 'a#epoch0', new TextEncoder().encode('two'), 5).version; // same dot a#epoch0:1
    const reported: Array<[unknown, unknown]> = [];
    const merged = reconcileSets([[one], [two]], (x, y) => reported.push([x, y]));
    expect(merged.map((v) => new TextDecoder().decode(v.value!)).sort()).to.deep.equal(['one', 'two']);
    expect(reported).to.deep.equal([[one, two]]);
    expect(isStale([one], merged), 'a replica holding one copy lacks the other').to.equal(true);
    expect(isStale([two, one], merged)).to.equal(false);
  });
});

/** True when `w`'s past covers `v`'s dot. */
function coversDotOf(w: Dvv, v: Dvv): boolean {
  return w.past.some((e) => e.actor === v.dot.actor && e.counter >= v.dot.counter);
}
