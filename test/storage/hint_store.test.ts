/**
 * Tests of the LMDB hint store: per-owner insertion order, delivery deletes,
 * counters, persistence across reopen, maximum age on an injected clock, the
 * byte cap, and checksum verification against bytes corrupted on disk.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorruptionError, InvalidRequestError, OverloadedError } from '../../src/core/errors.js';
import { KEY_MAX_BYTES, SCAN_PAGE_MAX_ENTRIES } from '../../src/core/limits.js';
import type { Version } from '../../storage/version.js';
import { HintStore, type HintStoreOptions } from '../../storage/hint_store.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A one-version hint payload whose value is `text`. */
function versionOf(text: string, ts_ms = 1): Version[] {
  return [{ clock: utf8(`clock:${text}`), value: utf8(text), ts_ms }];
}

/** Decode the first version's value of each hint, for compact comparisons. */
function valuesOf(store: HintStore, owner: string, limit = 100): string[] {
  return store.iterate(owner, limit).hints.map((hint) => new TextDecoder().decode(hint.versions[0]!.value!));
}

describe('storage/hint_store', function () {
  let dir = '';
  let now_ms = 0;
  const stores: HintStore[] = [];

  /** Open a store on the test directory and the test clock; closed after the test. */
  function openStore(extra: Partial<HintStoreOptions> = {}): HintStore {
    const store = new HintStore({ dir, now: () => now_ms, ...extra });
    stores.push(store);
    return store;
  }

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'ringkv-hints-'));
    now_ms = 1_000_000;
  });

  afterEach(async function () {
    for (const store of stores.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('returns each owner its hints in insertion order, with exact contents', async function () {
    const store = openStore();
    // node-1 and node-10 share a textual prefix: the length-prefixed key must keep them apart.
    const owners = ['node-2', 'node-1', 'node-10'];
    for (let i = 0; i < 30; i++) {
      const owner = owners[i % owners.length]!;
      await store.add(owner, utf8(`k${i}`), versionOf(`${owner}/${i}`, 100 + i));
    }
    for (const owner of owners) {
      const expected = [];
      for (let i = 0; i < 30; i++) if (owners[i % owners.length] === owner) expected.push(`${owner}/${i}`);
      expect(valuesOf(store, owner)).to.deep.equal(expected);
    }
    expect(store.owners()).to.deep.equal(['node-1', 'node-10', 'node-2']);
    expect(store.iterate('node-3', 10)).to.deep.equal({ hints: [], resume_after: null });

    const [first] = store.iterate('node-1', 1).hints;
    expect(first!.owner).to.equal('node-1');
    expect(first!.key).to.deep.equal(utf8('k1'));
    expect(first!.created_ms).to.equal(now_ms);
    expect(first!.versions).to.deep.equal(versionOf('node-1/1', 101));
  });

  it('keeps siblings and tombstones of one hint intact', async function () {
    const store = openStore();
    const versions: Version[] = [
      { clock: new Uint8Array([1, 2, 3]), value: new Uint8Array([9, 9]), ts_ms: 5 },
      { clock: new Uint8Array([4]), value: null, ts_ms: 6 },
      { clock: new Uint8Array(0), value: new Uint8Array(0), ts_ms: 7.5 },
    ];
    const id = await store.add('node-1', new Uint8Array(0), versions);
    const [hint] = store.iterate('node-1', 10).hints;
    expect(hint).to.deep.equal({ id, owner: 'node-1', key: new Uint8Array(0), versions, created_ms: now_ms });
  });

  it('orders concurrent adds by call order and pages with resume_after', async function () {
    const store = openStore();
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => store.add('node-1', utf8(`k${i}`), versionOf(`v${i}`))));
    for (let i = 1; i < ids.length; i++) expect(ids[i]).to.be.greaterThan(ids[i - 1]!);
    const seen: string[] = [];
    let after = -1;
    for (let page = 0; page < 20; page++) {
      const batch = store.iterate('node-1', 7, after);
      seen.push(...batch.hints.map((hint) => new TextDecoder().decode(hint.versions[0]!.value!)));
      if (batch.resume_after === null) break;
      after = batch.resume_after;
    }
    expect(seen).to.deep.equal(Array.from({ length: 50 }, (_, i) => `v${i}`));
  });

  it('deletes delivered hints, idempotently, and keeps count and bytes per owner', async function () {
    const store = openStore();
    const a_ids: number[] = [];
    for (let i = 0; i < 5; i++) a_ids.push(await store.add('node-a', utf8(`k${i}`), versionOf(`a${i}`)));
    await store.add('node-b', utf8('kb'), versionOf('b0'));
    expect(store.count('node-a')).to.equal(5);
    expect(store.count('node-b')).to.equal(1);
    expect(store.totalCount()).to.equal(6);
    expect(store.bytes('node-a')).to.be.greaterThan(0);
    expect(store.bytes('node-a') + store.bytes('node-b')).to.equal(store.totalBytes());
    const bytes_before = store.bytes('node-a');

    const delivered = store.iterate('node-a', 3).hints.map((hint) => hint.id);
    expect(delivered).to.deep.equal(a_ids.slice(0, 3));
    expect(await store.delete('node-a', delivered)).to.equal(3);
    expect(await store.delete('node-a', delivered)).to.equal(0);
    // An id of another owner is not touched by this owner's delete.
    expect(await store.delete('node-b', a_ids.slice(3))).to.equal(0);
    expect(valuesOf(store, 'node-a')).to.deep.equal(['a3', 'a4']);
    expect(store.count('node-a')).to.equal(2);
    expect(store.bytes('node-a')).to.be.lessThan(bytes_before);
    expect(store.bytes('node-a') + store.bytes('node-b')).to.equal(store.totalBytes());

    expect(await store.delete('node-a', a_ids.slice(3))).to.equal(2);
    expect(store.count('node-a')).to.equal(0);
    expect(store.bytes('node-a')).to.equal(0);
    expect(store.owners()).to.deep.equal(['node-b']);
    expect(store.totalCount()).to.equal(1);
  });

  it('persists hints, counters and the sequence across close and reopen', async function () {
    const first = openStore();
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push(await first.add(i % 2 === 0 ? 'node-1' : 'node-2', utf8(`k${i}`), versionOf(`v${i}`)));
    await first.delete('node-2', [ids[5]!]);
    const counts = [first.count('node-1'), first.count('node-2'), first.bytes('node-1'), first.bytes('node-2'), first.totalBytes()];
    const contents = first.iterate('node-1', 10);
    await first.close();

    const second = openStore();
    expect([second.count('node-1'), second.count('node-2'), second.bytes('node-1'), second.bytes('node-2'), second.totalBytes()]).to.deep.equal(
      counts,
    );
    expect(second.iterate('node-1', 10)).to.deep.equal(contents);
    const next = await second.add('node-1', utf8('k6'), versionOf('v6'));
    expect(next).to.be.greaterThan(ids[5]!);
    expect(valuesOf(second, 'node-1')).to.deep.equal(['v0', 'v2', 'v4', 'v6']);

    // With every hint delivered, the sequence still continues (it is persisted, not derived from the keys).
    for (const owner of second.owners()) await second.delete(owner, second.iterate(owner, 10).hints.map((hint) => hint.id));
    expect(second.totalCount()).to.equal(0);
    await second.close();
    const third = openStore();
    expect(third.totalCount()).to.equal(0);
    expect(third.totalBytes()).to.equal(0);
    expect(await third.add('node-1', utf8('k7'), versionOf('v7'))).to.be.greaterThan(next);
  });

  it('never returns hints past the maximum age and purges them on expire()', async function () {
    const max_age_ms = 60_000;
    const store = openStore({ max_age_ms });
    for (let i = 0; i < 3; i++) await store.add('node-1', utf8(`old${i}`), versionOf(`old${i}`));
    await store.add('node-2', utf8('old'), versionOf('old-2'));
    now_ms += max_age_ms / 2;
    for (let i = 0; i < 2; i++) await store.add('node-1', utf8(`new${i}`), versionOf(`new${i}`));

    now_ms += max_age_ms / 2; // The old hints are now exactly max_age old: still live.
    expect(valuesOf(store, 'node-1')).to.deep.equal(['old0', 'old1', 'old2', 'new0', 'new1']);
    now_ms += 1;
    expect(valuesOf(store, 'node-1')).to.deep.equal(['new0', 'new1']);
    expect(valuesOf(store, 'node-2')).to.deep.equal([]);
    expect(store.count('node-1')).to.equal(5); // Skipped on read, not yet purged.

    expect(await store.expire()).to.deep.equal({ purged: 4, more: false });
    expect(store.count('node-1')).to.equal(2);
    expect(store.count('node-2')).to.equal(0);
    expect(store.owners()).to.deep.equal(['node-1']);
    expect(valuesOf(store, 'node-1')).to.deep.equal(['new0', 'new1']);

    now_ms += max_age_ms;
    expect(valuesOf(store, 'node-1')).to.deep.equal([]);
    expect(await store.expire()).to.deep.equal({ purged: 2, more: false });
    expect(store.totalCount()).to.equal(0);
    expect(store.totalBytes()).to.equal(0);
  });

  it('bounds the work of one iterate and one expire by the scan page', async function () {
    const store = openStore({ max_age_ms: 1000 });
    const total = SCAN_PAGE_MAX_ENTRIES + 76;
    await Promise.all(Array.from({ length: total }, (_, i) => store.add('node-1', utf8(`k${i}`), versionOf(`v${i}`))));
    now_ms += 1001;
    const skipped = store.iterate('node-1', 10);
    expect(skipped.hints).to.deep.equal([]);
    expect(skipped.resume_after).to.not.equal(null); // Not exhausted: the caller can resume or expire.
    expect(store.iterate('node-1', 10, skipped.resume_after!)).to.deep.equal({ hints: [], resume_after: null });
    expect(await store.expire()).to.deep.equal({ purged: SCAN_PAGE_MAX_ENTRIES, more: true });
    expect(await store.expire()).to.deep.equal({ purged: 76, more: false });
    expect(store.totalCount()).to.equal(0);
  });

  it('refuses adds with OverloadedError when full and accepts again after deletes', async function () {
    const store = openStore({ max_bytes: 4096 });
    const value = 'x'.repeat(300);
    const ids: number[] = [];
    let refusal: unknown = null;
    for (let i = 0; i < 100 && refusal === null; i++) {
      try {
        ids.push(await store.add('node-1', utf8(`k${i}`), versionOf(value)));
      } catch (err) {
        refusal = err;
      }
    }
    expect(refusal).to.be.instanceOf(OverloadedError);
    expect((refusal as OverloadedError).message).to.match(/fail the write over/);
    expect(ids.length).to.be.within(5, 15);
    expect(store.totalBytes()).to.be.at.most(4096);
    const count_full = store.count('node-1');
    expect(count_full).to.equal(ids.length);
    // A refused add changed nothing.
    try {
      await store.add('node-2', utf8('k'), versionOf(value));
      expect.fail('a full store must refuse');
    } catch (err) {
      expect(err).to.be.instanceOf(OverloadedError);
    }
    expect(store.count('node-2')).to.equal(0);
    expect(store.totalCount()).to.equal(count_full);

    await store.delete('node-1', ids.slice(0, 2));
    const id = await store.add('node-2', utf8('k'), versionOf(value));
    expect(store.iterate('node-2', 10).hints.map((hint) => hint.id)).to.deep.equal([id]);
  });

  it('rejects oversized keys and empty version lists as invalid requests', async function () {
    const store = openStore();
    for (const attempt of [
      () => store.add('node-1', new Uint8Array(KEY_MAX_BYTES + 1), versionOf('v')),
      () => store.add('node-1', utf8('k'), []),
    ]) {
      try {
        await attempt();
        expect.fail('must be refused');
      } catch (err) {
        expect(err).to.be.instanceOf(InvalidRequestError);
      }
    }
    expect(store.totalCount()).to.equal(0);
  });

  it('detects a value corrupted on disk and lets the caller drop it', async function () {
    const store = openStore();
    const marker = 'CORRUPT-ME-'.repeat(6);
    await store.add('node-1', utf8('k0'), versionOf('intact-before'));
    await store.add('node-1', utf8('k1'), versionOf(marker));
    await store.add('node-1', utf8('k2'), versionOf('intact-after'));
    await store.close();

    // LMDB stores small values inline in leaf pages without checksums: flip a byte of every copy of the marker.
    const file = join(dir, 'hints.mdb');
    const bytes = readFileSync(file);
    const needle = Buffer.from(marker);
    let flipped = 0;
    for (let at = bytes.indexOf(needle); at >= 0 && flipped < 64; at = bytes.indexOf(needle, at + 1)) {
      bytes[at + 20] = bytes[at + 20]! ^ 0x01;
      flipped += 1;
    }
    expect(flipped).to.be.greaterThan(0);
    writeFileSync(file, bytes);

    const reopened = openStore();
    expect(reopened.count('node-1')).to.equal(3);
    expect(() => reopened.iterate('node-1', 10)).to.throw(CorruptionError, /fails its checksum/);
    // A page that ends before the bad hint is still readable.
    expect(valuesOf(reopened, 'node-1', 1)).to.deep.equal(['intact-before']);
    expect(await reopened.dropCorrupt('node-1')).to.equal(1);
    expect(reopened.count('node-1')).to.equal(2);
    expect(valuesOf(reopened, 'node-1')).to.deep.equal(['intact-before', 'intact-after']);
  });
});
