/**
 * One table of behavioural cases run against both `HintStorage`
 * implementations: the in-memory store the simulator uses and the LMDB store
 * the real runtime uses (in a temp directory). A behaviour that differs
 * between them fails here, so the simulator cannot test a store that does not
 * exist. A last pair of tests checks that both count the very same bytes.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssertionError } from '../../src/core/assert.js';
import { InvalidRequestError, OverloadedError } from '../../src/core/errors.js';
import { KEY_MAX_BYTES, SCAN_PAGE_MAX_ENTRIES } from '../../src/core/limits.js';
import type { HintStorage } from '../../storage/hint_storage.js';
import { HintStore } from '../../storage/hint_store.js';
import { MemoryHintStore } from '../../storage/memory_hint_store.js';
import type { Version } from '../../storage/version.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (bytes: Uint8Array | null | undefined): string => new TextDecoder().decode(bytes ?? new Uint8Array(0));

/** A one-version hint payload whose value is `value`. */
function versionOf(value: string, ts_ms = 1): Version[] {
  return [{ clock: utf8(`clock:${value}`), value: utf8(value), ts_ms }];
}

/** First-version values of `owner`'s live hints, in order. */
function valuesOf(store: HintStorage, owner: string, limit = 100): string[] {
  return store.iterate(owner, limit).hints.map((hint) => text(hint.versions[0]!.value));
}

/** The test clock, advanced by hand. */
interface Clock {
  now_ms: number;
}

/** What a case may ask of the store it gets. */
interface StoreBounds {
  max_age_ms?: number;
  max_bytes?: number;
}

/** Opens a store of one implementation on a clock; `reopen` models a restart (same directory, or the same object). */
interface Implementation {
  name: string;
  open(clock: Clock, bounds: StoreBounds): HintStorage;
}

/** One behavioural case, run against every implementation. */
interface Case {
  name: string;
  bounds?: StoreBounds;
  run(store: HintStorage, clock: Clock): Promise<void>;
}

/** Expect `attempt` to reject with an instance of `kind`; returns the error. */
async function rejection(attempt: () => Promise<unknown>, kind: new (...args: never[]) => Error): Promise<Error> {
  try {
    await attempt();
  } catch (err) {
    expect(err).to.be.instanceOf(kind);
    return err as Error;
  }
  throw new Error(`expected a ${kind.name}, but the call succeeded`);
}

const CASES: Case[] = [
  {
    name: 'returns each owner its hints in insertion order, with exact contents',
    async run(store, clock) {
      const owners = ['n2', 'n1', 'n10']; // n1 and n10 share a textual prefix
      for (let i = 0; i < 30; i++) {
        const owner = owners[i % owners.length]!;
        await store.add(owner, utf8(`k${i}`), versionOf(`${owner}/${i}`, 100 + i));
      }
      for (const owner of owners) {
        const expected: string[] = [];
        for (let i = 0; i < 30; i++) if (owners[i % owners.length] === owner) expected.push(`${owner}/${i}`);
        expect(valuesOf(store, owner)).to.deep.equal(expected);
      }
      expect(store.owners()).to.deep.equal(['n1', 'n10', 'n2']);
      expect(store.iterate('n3', 10)).to.deep.equal({ hints: [], resume_after: null });
      const [first] = store.iterate('n1', 1).hints;
      expect(first).to.deep.equal({ id: first!.id, owner: 'n1', key: utf8('k1'), versions: versionOf('n1/1', 101), created_ms: clock.now_ms });
    },
  },
  {
    name: 'keeps siblings and tombstones of one hint intact',
    async run(store, clock) {
      const versions: Version[] = [
        { clock: new Uint8Array([1, 2, 3]), value: new Uint8Array([9, 9]), ts_ms: 5 },
        { clock: new Uint8Array([4]), value: null, ts_ms: 6 },
        { clock: new Uint8Array(0), value: new Uint8Array(0), ts_ms: 7.5 },
      ];
      const id = await store.add('n1', new Uint8Array(0), versions);
      expect(store.iterate('n1', 10).hints).to.deep.equal([{ id, owner: 'n1', key: new Uint8Array(0), versions, created_ms: clock.now_ms }]);
    },
  },
  {
    name: 'orders concurrent adds by call order and pages with resume_after',
    async run(store) {
      const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => store.add('n1', utf8(`k${i}`), versionOf(`v${i}`))));
      for (let i = 1; i < ids.length; i++) expect(ids[i]).to.be.greaterThan(ids[i - 1]!);
      const seen: string[] = [];
      let after = -1;
      let pages = 0;
      for (; pages < 20; pages++) {
        const batch = store.iterate('n1', 7, after);
        seen.push(...batch.hints.map((hint) => text(hint.versions[0]!.value)));
        if (batch.resume_after === null) break;
        after = batch.resume_after;
      }
      expect(seen).to.deep.equal(Array.from({ length: 50 }, (_, i) => `v${i}`));
      expect(pages).to.equal(7); // 50 = 7 full pages and one of 1, the last one exhausting the range
    },
  },
  {
    name: 'deletes delivered hints, idempotently, and keeps count and bytes per owner',
    async run(store) {
      const a_ids: number[] = [];
      for (let i = 0; i < 5; i++) a_ids.push(await store.add('na', utf8(`k${i}`), versionOf(`a${i}`)));
      await store.add('nb', utf8('kb'), versionOf('b0'));
      expect([store.count('na'), store.count('nb'), store.totalCount()]).to.deep.equal([5, 1, 6]);
      expect(store.bytes('na')).to.be.greaterThan(0);
      expect(store.bytes('na') + store.bytes('nb')).to.equal(store.totalBytes());
      const bytes_before = store.bytes('na');
      const delivered = store.iterate('na', 3).hints.map((hint) => hint.id);
      expect(delivered).to.deep.equal(a_ids.slice(0, 3));
      expect(await store.delete('na', delivered)).to.equal(3);
      expect(await store.delete('na', delivered)).to.equal(0);
      expect(await store.delete('nb', a_ids.slice(3))).to.equal(0); // another owner's ids are not touched
      expect(valuesOf(store, 'na')).to.deep.equal(['a3', 'a4']);
      expect(store.count('na')).to.equal(2);
      expect(store.bytes('na')).to.be.lessThan(bytes_before);
      expect(await store.delete('na', a_ids.slice(3))).to.equal(2);
      expect([store.count('na'), store.bytes('na'), store.totalCount()]).to.deep.equal([0, 0, 1]);
      expect(store.owners()).to.deep.equal(['nb']);
      expect(store.totalBytes()).to.equal(store.bytes('nb'));
    },
  },
  {
    name: 'never returns hints past the maximum age and purges them on expire()',
    bounds: { max_age_ms: 60_000 },
    async run(store, clock) {
      for (let i = 0; i < 3; i++) await store.add('n1', utf8(`old${i}`), versionOf(`old${i}`));
      await store.add('n2', utf8('old'), versionOf('old-2'));
      clock.now_ms += 30_000;
      for (let i = 0; i < 2; i++) await store.add('n1', utf8(`new${i}`), versionOf(`new${i}`));
      clock.now_ms += 30_000; // the old hints are exactly max_age old: still live
      expect(valuesOf(store, 'n1')).to.deep.equal(['old0', 'old1', 'old2', 'new0', 'new1']);
      clock.now_ms += 1;
      expect(valuesOf(store, 'n1')).to.deep.equal(['new0', 'new1']);
      expect(valuesOf(store, 'n2')).to.deep.equal([]);
      expect(store.count('n1')).to.equal(5); // skipped on read, not yet purged
      expect(await store.expire()).to.deep.equal({ purged: 4, more: false });
      expect([store.count('n1'), store.count('n2')]).to.deep.equal([2, 0]);
      expect(store.owners()).to.deep.equal(['n1']);
      clock.now_ms += 60_000;
      expect(await store.expire()).to.deep.equal({ purged: 2, more: false });
      expect([store.totalCount(), store.totalBytes()]).to.deep.equal([0, 0]);
    },
  },
  {
    name: 'bounds the work of one iterate and one expire by the scan page',
    bounds: { max_age_ms: 1000 },
    async run(store, clock) {
      const total = SCAN_PAGE_MAX_ENTRIES + 76;
      await Promise.all(Array.from({ length: total }, (_, i) => store.add('n1', utf8(`k${i}`), versionOf(`v${i}`))));
      clock.now_ms += 1001;
      const skipped = store.iterate('n1', 10);
      expect(skipped.hints).to.deep.equal([]);
      expect(skipped.resume_after).to.not.equal(null);
      expect(store.iterate('n1', 10, skipped.resume_after!)).to.deep.equal({ hints: [], resume_after: null });
      expect(await store.expire()).to.deep.equal({ purged: SCAN_PAGE_MAX_ENTRIES, more: true });
      expect(await store.expire()).to.deep.equal({ purged: 76, more: false });
      expect(store.totalCount()).to.equal(0);
    },
  },
  {
    name: 'refuses adds with OverloadedError naming the cap when full, changes nothing, and accepts again after deletes',
    bounds: { max_bytes: 4096 },
    async run(store) {
      const value = 'x'.repeat(300);
      const ids: number[] = [];
      let refusal: unknown = null;
      for (let i = 0; i < 100 && refusal === null; i++) {
        try {
          ids.push(await store.add('n1', utf8(`k${i}`), versionOf(value)));
        } catch (err) {
          refusal = err;
        }
      }
      expect(refusal).to.be.instanceOf(OverloadedError);
      expect((refusal as Error).message).to.match(/of 4096 bytes used/).and.to.match(/fail the write over/);
      expect(ids.length).to.be.within(5, 15);
      expect(store.totalBytes()).to.be.at.most(4096);
      const [count_full, bytes_full] = [store.count('n1'), store.totalBytes()];
      expect(count_full).to.equal(ids.length);
      await rejection(() => store.add('n2', utf8('k'), versionOf(value)), OverloadedError);
      expect([store.count('n2'), store.totalCount(), store.totalBytes()]).to.deep.equal([0, count_full, bytes_full]);
      await store.delete('n1', ids.slice(0, 2));
      const id = await store.add('n2', utf8('k'), versionOf(value));
      expect(id).to.be.greaterThan(ids[ids.length - 1]!); // a refused add took no id
      expect(store.iterate('n2', 10).hints.map((hint) => hint.id)).to.deep.equal([id]);
    },
  },
  {
    name: 'rejects oversized keys and empty version lists as invalid requests',
    async run(store) {
      await rejection(() => store.add('n1', new Uint8Array(KEY_MAX_BYTES + 1), versionOf('v')), InvalidRequestError);
      await rejection(() => store.add('n1', utf8('k'), []), InvalidRequestError);
      expect([store.totalCount(), store.totalBytes()]).to.deep.equal([0, 0]);
      expect(await store.dropCorrupt('n1')).to.equal(0);
    },
  },
  {
    name: 'stores copies: changing the caller\'s buffers after add, or a returned hint, alters nothing stored',
    async run(store) {
      const key = utf8('key');
      const versions = versionOf('original');
      await store.add('n1', key, versions);
      key[0] = 0x21;
      versions[0]!.value![0] = 0x21;
      const [read] = store.iterate('n1', 1).hints;
      expect(text(read!.key)).to.equal('key');
      expect(text(read!.versions[0]!.value)).to.equal('original');
      read!.versions[0]!.value![0] = 0x21;
      expect(valuesOf(store, 'n1')).to.deep.equal(['original']);
    },
  },
  {
    name: 'asserts on use after close',
    async run(store) {
      await store.add('n1', utf8('k'), versionOf('v'));
      await store.close();
      await store.close(); // idempotent
      expect(() => store.iterate('n1', 1)).to.throw(AssertionError, /after close/);
      await rejection(() => store.add('n1', utf8('k'), versionOf('v')), AssertionError);
    },
  },
];

describe('storage/memory_hint_store (one case table, both HintStorage implementations)', function () {
  let dir = '';
  const opened: HintStorage[] = [];

  const IMPLEMENTATIONS: Implementation[] = [
    { name: 'MemoryHintStore', open: (clock, bounds) => new MemoryHintStore({ now: () => clock.now_ms, ...bounds }) },
    { name: 'HintStore (LMDB)', open: (clock, bounds) => new HintStore({ dir, now: () => clock.now_ms, ...bounds }) },
  ];

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'ringkv-hintparity-'));
  });

  afterEach(async function () {
    for (const store of opened.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const impl of IMPLEMENTATIONS) {
    describe(impl.name, function () {
      for (const testCase of CASES) {
        it(testCase.name, async function () {
          const clock: Clock = { now_ms: 1_000_000 };
          const store = impl.open(clock, testCase.bounds ?? {});
          opened.push(store);
          await testCase.run(store, clock);
        });
      }
    });
  }

  it('both stores count the same bytes, take the same ids and refuse at the same hint', async function () {
    const clock: Clock = { now_ms: 5_000 };
    const [memory, lmdb] = IMPLEMENTATIONS.map((impl) => impl.open(clock, { max_bytes: 20_000 }));
    opened.push(memory!, lmdb!);
    const outcomes: string[][] = [[], []];
    for (let i = 0; i < 120; i++) {
      const owner = `n${1 + (i % 3)}`;
      const versions: Version[] = [
        { clock: utf8(`c${i}`), value: i % 7 === 0 ? null : utf8('v'.repeat(i * 3)), ts_ms: i },
        { clock: utf8(`d${i}`), value: utf8('w'), ts_ms: i + 0.5 },
      ];
      for (const [which, store] of [memory!, lmdb!].entries()) {
        try {
          outcomes[which]!.push(`id ${await store.add(owner, utf8(`key-${i}`), versions)}`);
        } catch (err) {
          outcomes[which]!.push((err as Error).name);
        }
      }
      if (i % 10 === 9) {
        const victim = `n${1 + ((i / 10) % 3)}`;
        const ids = lmdb!.iterate(victim, 4).hints.map((hint) => hint.id);
        expect(await memory!.delete(victim, ids)).to.equal(await lmdb!.delete(victim, ids));
      }
      clock.now_ms += 1;
    }
    expect(outcomes[0]).to.deep.equal(outcomes[1]);
    expect(outcomes[0]).to.include('OverloadedError'); // the cap was reached, at the same hint in both
    const summary = (store: HintStorage) => ({
      owners: store.owners(),
      totals: [store.totalCount(), store.totalBytes()],
      per_owner: store.owners().map((owner) => [store.count(owner), store.bytes(owner)]),
      hints: store.owners().map((owner) => store.iterate(owner, 100).hints),
    });
    expect(summary(memory!)).to.deep.equal(summary(lmdb!));
  });
});
