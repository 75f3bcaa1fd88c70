/**
 * The consistency checker: hand-made histories for each property (clean ones
 * pass, broken ones are reported with the right key and op ids), the
 * recorder and the JSON form, a property test against a tiny correct model of
 * a DVV store (no violation; removing one acknowledged version is a
 * lost-write), and a 100k-op history at scale. Contexts use the real encoding.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  checkHistory,
  checkHistoryReport,
  formatViolation,
  historyFromJson,
  historyToJson,
  HistoryRecorder,
  type FinalState,
  type HistoryOp,
  type Outcome,
  type Violation,
} from '../../src/check/index.js';
import { coversDot, join, syncBy, update, type Dvv } from '../../src/core/dotted_version_vector.js';
import { InvalidRequestError, OverloadedError } from '../../src/core/errors.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { contextFromString, contextToString, formatVersion, parseVersion } from '../../src/core/version_id.js';

const SEED = seedFrom(process.env['SEED'], Date.now());

const N1 = 'n1#epoch0';
const N2 = 'n2#epoch0';

/** A version made by `actor` with `counter`, having seen `seen`. */
const dvv = (actor: string, counter: number, seen: Dvv[] = []): Dvv => ({ dot: { actor, counter, ts_ms: 0 }, past: join(seen) });
/** The context a client holds after reading `versions`. */
const ctx = (...versions: Dvv[]): string => contextToString(join(versions));
const ver = (v: Dvv): string => formatVersion(v.dot);

/** Builds a hand-made history: each op takes 2 ms, ops run one after another. */
class Builder {
  readonly ops: HistoryOp[] = [];
  private now_ms = 0;

  put(client: string, key: string, value: string, version: Dvv | null, context = '', outcome: Outcome = 'ok', ryw = false): number {
    return this.add({ client, key, kind: 'put', value, context, outcome, ryw, ...(version ? { version: ver(version) } : {}) });
  }

  del(client: string, key: string, version: Dvv | null, context: string, outcome: Outcome = 'ok', ryw = false): number {
    return this.add({ client, key, kind: 'delete', context, outcome, ryw, ...(version ? { version: ver(version) } : {}) });
  }

  get(client: string, key: string, shown: Array<[string, Dvv]>, ryw = false): number {
    return this.add({
      client,
      key,
      kind: 'get',
      outcome: 'ok',
      ryw,
      values: shown.map(([value]) => value),
      versions: shown.map(([, v]) => ver(v)),
      readContext: ctx(...shown.map(([, v]) => v)),
    });
  }

  /** An op invoked now that completes only after `later` more ops have run (overlapping them). */
  overlap(later: number): void {
    const last = this.ops[this.ops.length - 1]!;
    last.completed_ms = last.invoked_ms + 1 + 2 * later;
  }

  private add(fields: Omit<HistoryOp, 'id' | 'invoked_ms' | 'completed_ms'>): number {
    const id = this.ops.length + 1;
    const completed_ms = fields.outcome === 'unknown' ? null : this.now_ms + 1;
    this.ops.push({ id, invoked_ms: this.now_ms, completed_ms, ...fields });
    this.now_ms += 2;
    return id;
  }
}

/** A final state whose read of each key shows (value, version) pairs. */
function finalOf(reads: Record<string, Array<[string, Dvv]>>): FinalState {
  const map = new Map<string, { values: string[]; versions: string[] }>();
  for (const [key, shown] of Object.entries(reads)) map.set(key, { values: shown.map(([v]) => v), versions: shown.map(([, d]) => ver(d)) });
  return { reads: map };
}

/** property/key/ops of each violation, for deep-equal assertions. */
const brief = (vs: Violation[]): Array<[string, string, number[]]> => vs.map((v) => [v.property, v.key, v.ops]);

describe('check/checker', () => {
  before(() => console.log(`      SEED=${SEED} (replay with SEED=${SEED})`));

  describe('hand-made histories', () => {
    it('a clean history with concurrent siblings, a resolving write and a delete has no violation', () => {
      const h = new Builder();
      const a1 = dvv(N1, 1);
      const b1 = dvv(N2, 1);
      h.put('c1', 'k', 'v1', a1, '', 'ok', true);
      h.put('c2', 'k', 'v2', b1, '', 'ok', true); // blind and concurrent: a true sibling
      h.get('c1', 'k', [['v1', a1], ['v2', b1]], true);
      const a2 = dvv(N1, 2, [a1, b1]);
      h.put('c1', 'k', 'v3', a2, ctx(a1, b1), 'ok', true);
      h.get('c1', 'k', [['v3', a2]], true);
      h.get('c2', 'k', [['v3', a2]], true);
      const x1 = dvv(N1, 3);
      h.put('c1', 'x', 'x1', x1, '', 'ok', true);
      h.get('c1', 'x', [['x1', x1]], true);
      h.del('c1', 'x', dvv(N1, 4, [x1]), ctx(x1), 'ok', true); // tombstone via delete covering a put
      h.get('c1', 'x', [], true);
      const final = finalOf({ k: [['v3', a2]], x: [] });
      final.replicas = new Map([['k', new Map([['n1', [ver(a2)]], ['n2', [ver(a2)]]])]]);
      expect(checkHistory(h.ops, final)).to.deep.equal([]);
    });

    it('lost-write: an acknowledged put absent from the final read and covered by no write', () => {
      const h = new Builder();
      const a1 = dvv(N1, 1);
      const b1 = dvv(N2, 1);
      h.put('c1', 'k', 'v1', b1);
      const lost = h.put('c2', 'k', 'v2', a1);
      h.put('c1', 'other', 'o1', dvv(N1, 2));
      const found = checkHistory(h.ops, finalOf({ k: [['v1', b1]], other: [['o1', dvv(N1, 2)]] }));
      expect(brief(found)).to.deep.equal([['lost-write', 'k', [lost]]]);
      expect(found[0]!.detail).to.contain('put #2').and.contain('"v2"').and.contain(`${N1}:1`).and.contain('absent from the final read');
    });

    it('lost-write: a failed or unknown write whose context covered the acked put may have landed: fine', () => {
      for (const outcome of ['failed', 'unknown'] as const) {
        const h = new Builder();
        const a1 = dvv(N1, 1);
        h.put('c1', 'k', 'v1', a1);
        h.get('c2', 'k', [['v1', a1]]);
        h.put('c2', 'k', 'v2', null, ctx(a1), outcome);
        const a2 = dvv(N1, 2, [a1]);
        expect(checkHistory(h.ops, finalOf({ k: [['v2', a2]] })), outcome).to.deep.equal([]);
      }
    });

    it('lost-write: a delete whose context covered the put is a legal tombstone; a version it covered coming back is not', () => {
      const h = new Builder();
      const a1 = dvv(N1, 1);
      const put = h.put('c1', 'k', 'v1', a1);
      h.get('c2', 'k', [['v1', a1]]);
      const del = h.del('c2', 'k', dvv(N1, 2, [a1]), ctx(a1));
      expect(checkHistory(h.ops, finalOf({ k: [] }))).to.deep.equal([]);
      const resurrected = checkHistory(h.ops, finalOf({ k: [['v1', a1]] }));
      expect(brief(resurrected)).to.deep.equal([['lost-write', 'k', [del, put]]]);
      expect(resurrected[0]!.detail).to.contain('back in the final read');
    });

    it('lost-observed-write (batch sync): a get showed a write of unknown outcome that the final read lacks and nothing superseded', () => {
      const h = new Builder();
      const a1 = dvv(N1, 1);
      const writer = h.put('c1', 'k', 'v1', null, '', 'unknown');
      const seen = h.get('c2', 'k', [['v1', a1]]);
      const final = finalOf({ k: [] });
      expect(brief(checkHistory(h.ops, final))).to.deep.equal([['lost-observed-write', 'k', [seen, writer]]]);
      // Under periodic sync a replica shows unsynced writes by design: not checked.
      expect(checkHistory(h.ops, { ...final, sync: { mode: 'periodic', window_ms: 100 } })).to.deep.equal([]);
      // Superseded by a later write whose context came from that read: fine.
      const h2 = new Builder();
      h2.put('c1', 'k', 'v1', null, '', 'unknown');
      h2.get('c2', 'k', [['v1', a1]]);
      const b1 = dvv(N2, 1, [a1]);
      h2.put('c2', 'k', 'v2', b1, ctx(a1));
      expect(checkHistory(h2.ops, finalOf({ k: [['v2', b1]] }))).to.deep.equal([]);
    });

    it('lost-write: an acknowledged write with no final read of its key is a malformed input', () => {
      const h = new Builder();
      h.put('c1', 'k', 'v1', dvv(N1, 1));
      expect(() => checkHistory(h.ops, finalOf({}))).to.throw(InvalidRequestError, /no final read/);
    });

    it('phantom: a value no put wrote, a value at the wrong version, and a final read of an unwritten key', () => {
      const h = new Builder();
      const a1 = dvv(N1, 1);
      const put = h.put('c1', 'k', 'v1', a1);
      const ghost = h.get('c2', 'k', [['ghost', dvv(N2, 7)]]);
      const wrong = h.get('c2', 'k', [['v1', dvv(N2, 1)]]);
      const found = checkHistory(h.ops, finalOf({ k: [['v1', a1]], nobody: [['z', dvv(N2, 3)]] }));
      expect(brief(found)).to.deep.equal([
        ['phantom', 'k', [ghost]],
        ['phantom', 'k', [wrong, put]],
        ['phantom', 'nobody', []],
      ]);
    });

    it('phantom: a value from a put whose outcome is unknown is not a phantom', () => {
      const h = new Builder();
      h.put('c1', 'k', 'v1', null, '', 'unknown');
      h.get('c2', 'k', [['v1', dvv(N1, 1)]]);
      expect(checkHistory(h.ops, finalOf({ k: [['v1', dvv(N1, 1)]] }))).to.deep.equal([]);
    });

    it('false-sibling: a write that saw the other version comes back as its sibling', () => {
      const h = new Builder();
      const a1 = dvv(N1, 1);
      const first = h.put('c1', 'k', 'v1', a1);
      h.get('c1', 'k', [['v1', a1]]);
      const a2 = dvv(N1, 2, [a1]);
      const second = h.put('c1', 'k', 'v2', a2, ctx(a1));
      const read = h.get('c2', 'k', [['v1', a1], ['v2', a2]]);
      const found = checkHistory(h.ops, finalOf({ k: [['v2', a2]] }));
      expect(brief(found)).to.deep.equal([['false-sibling', 'k', [read, second, first]]]);
      expect(formatViolation(found[0]!, 42)).to.match(/^false-sibling key="k" ops=#4,#3,#1 seed=42: get #4 returns versions/);
    });

    it('divergence: replicas of a key holding different versions after heal', () => {
      const h = new Builder();
      const a1 = dvv(N1, 1);
      const b1 = dvv(N2, 1);
      h.put('c1', 'k', 'v1', a1);
      const second = h.put('c2', 'k', 'v2', b1);
      const final = finalOf({ k: [['v1', a1], ['v2', b1]] });
      final.replicas = new Map([['k', new Map([['n1', [ver(a1), ver(b1)]], ['n2', [ver(b1), ver(a1)]], ['n3', [ver(a1)]]])]]);
      const found = checkHistory(h.ops, final);
      expect(brief(found)).to.deep.equal([['divergence', 'k', [second]]]);
      expect(found[0]!.detail).to.contain(`n3 lacks [${ver(b1)}]`);
    });

    it("read-your-writes: a client's strict get misses its own completed put or shows what its own delete removed", () => {
      const h = new Builder();
      const a1 = dvv(N1, 1);
      const put = h.put('c1', 'k', 'v1', a1, '', 'ok', true);
      const missed = h.get('c1', 'k', [], true);
      h.get('c1', 'k', [], false); // not strict: no promise
      h.get('c2', 'k', [], true); // another client: no promise
      const y1 = dvv(N1, 2);
      h.put('c1', 'y', 'y1', y1, '', 'ok', true);
      h.get('c1', 'y', [['y1', y1]], true);
      const del = h.del('c1', 'y', dvv(N1, 3, [y1]), ctx(y1), 'ok', true);
      const stale = h.get('c1', 'y', [['y1', y1]], true);
      const found = checkHistory(h.ops, finalOf({ k: [['v1', a1]], y: [] }));
      expect(brief(found)).to.deep.equal([
        ['read-your-writes', 'k', [missed, put]],
        ['read-your-writes', 'y', [stale, del]],
      ]);
    });

    it('read-your-writes: a get overlapping the put, or seeing a later write that covers it, is fine', () => {
      const h = new Builder();
      const a1 = dvv(N1, 1);
      h.put('c1', 'k', 'v1', a1, '', 'ok', true);
      h.overlap(1); // the put completes after the next get began
      h.get('c1', 'k', [], true);
      h.get('c2', 'k', [['v1', a1]]);
      const b2 = dvv(N2, 1, [a1]);
      h.put('c2', 'k', 'v2', b2, ctx(a1), 'ok', true); // c2 saw v1 and replaced it
      h.get('c1', 'k', [['v2', b2]], true);
      expect(checkHistory(h.ops, finalOf({ k: [['v2', b2]] }))).to.deep.equal([]);
    });

    it('one-dot-one-value: two acknowledged writes with one version, or a put and a delete, name two values', () => {
      const h = new Builder();
      const a1 = dvv(N1, 1);
      const first = h.put('c1', 'k', 'v1', a1);
      const second = h.put('c2', 'k', 'v2', a1); // the node minted n1:1 again
      const b1 = dvv(N2, 1);
      const put = h.put('c1', 'x', 'x1', b1);
      const del = h.del('c2', 'x', b1, '');
      const found = checkHistory(h.ops, finalOf({ k: [['v1', a1], ['v2', a1]], x: [] }));
      expect(brief(found).filter(([p]) => p === 'one-dot-one-value')).to.deep.equal([
        ['one-dot-one-value', 'k', [second, first]],
        ['one-dot-one-value', 'x', [del, put]],
      ]);
      expect(found.find((v) => v.key === 'x')!.detail).to.contain('a tombstone').and.contain('"x1"');
    });

    it('one-dot-one-value: a read showing a version with another value than its writer wrote, or two reads disagreeing', () => {
      const h = new Builder();
      const a1 = dvv(N1, 1);
      const put = h.put('c1', 'k', 'v1', a1);
      h.put('c2', 'k', 'v2', null, '', 'unknown');
      const wrong = h.get('c2', 'k', [['v2', a1]]); // v2 was written, but not at n1:1
      const b7 = dvv(N2, 7);
      h.put('c3', 'y', 'y1', null, '', 'unknown');
      h.put('c3', 'y', 'y2', null, '', 'unknown');
      const sawY1 = h.get('c1', 'y', [['y1', b7]]);
      const sawY2 = h.get('c2', 'y', [['y2', b7]]);
      const found = checkHistory(h.ops, finalOf({ k: [['v1', a1]], y: [['y1', b7]] }));
      expect(brief(found)).to.deep.equal([
        ['one-dot-one-value', 'k', [wrong, put]],
        ['one-dot-one-value', 'y', [sawY2, sawY1]],
      ]);
    });

    it('one-dot-one-value: a replica holding one dot with two digests; dot-conflict: replicas reported conflicts', () => {
      const h = new Builder();
      const a1 = dvv(N1, 1);
      const put = h.put('c1', 'k', 'v1', a1);
      const final = finalOf({ k: [['v1', a1]] });
      final.replicas = new Map([['k', new Map([['n1', [`${ver(a1)}=0a0b0c0d`, `${ver(a1)}=11111111`]], ['n2', [`${ver(a1)}=0a0b0c0d`, `${ver(a1)}=11111111`]]])]]);
      final.dotConflicts = 2;
      const found = checkHistory(h.ops, final);
      expect(brief(found)).to.deep.equal([
        ['dot-conflict', '', []],
        ['one-dot-one-value', 'k', [put]],
      ]);
      expect(found[0]!.detail).to.contain('2 dot conflicts');
      expect(found[1]!.detail).to.contain('replica n1').and.contain('0a0b0c0d, 11111111');
    });

    it('divergence: replicas holding one dot with different digests disagree', () => {
      const h = new Builder();
      const a1 = dvv(N1, 1);
      const put = h.put('c1', 'k', 'v1', a1);
      const final = finalOf({ k: [['v1', a1]] });
      final.replicas = new Map([['k', new Map([['n1', [`${ver(a1)}=0a0b0c0d`]], ['n2', [`${ver(a1)}=11111111`]]])]]);
      const found = checkHistory(h.ops, final);
      expect(brief(found)).to.deep.equal([['divergence', 'k', [put]]]);
      expect(found[0]!.detail).to.contain(`replicas hold [${ver(a1)}] with different values`);
      final.replicas = new Map([['k', new Map([['n1', [`${ver(a1)}=0a0b0c0d`]], ['n2', [`${ver(a1)}=0a0b0c0d`]]])]]);
      expect(checkHistory(h.ops, final), 'same dot, same digest: converged').to.deep.equal([]);
    });

    describe('lost-write: superseded only by a context read after the put was invoked', () => {
      // The defect: n1 forgot its counter and minted n1:1 for put P after a client had already read n1:2.
      const a2 = dvv(N1, 2);
      const a1 = dvv(N1, 1);

      it('a context read before the put was invoked cannot supersede it, though it covers its dot', () => {
        const h = new Builder();
        h.put('c1', 'k', 'v0', a2);
        h.get('c2', 'k', [['v0', a2]]);
        const lost = h.put('c1', 'k', 'v1', a1);
        const over = dvv(N2, 1, [a2]);
        const w = h.put('c2', 'k', 'v2', over, ctx(a2));
        const found = checkHistory(h.ops, finalOf({ k: [['v2', over]] }));
        expect(brief(found)).to.deep.equal([['lost-write', 'k', [lost]]]);
        expect(found[0]!.detail).to.contain(`put #${w}`).and.contain('before the put was invoked');
      });

      it('a read overlapping the put (completing after it was invoked) may have seen it: fine', () => {
        const h = new Builder();
        h.put('c1', 'k', 'v1', a1);
        h.overlap(1); // still running when the get below completes
        h.get('c2', 'k', [['v1', a1]]);
        const over = dvv(N2, 1, [a1]);
        h.put('c2', 'k', 'v2', over, ctx(a1));
        expect(checkHistory(h.ops, finalOf({ k: [['v2', over]] }))).to.deep.equal([]);
      });

      it("a write's reply context carried on, and an overwrite's applied context, count from when they were handed out", () => {
        const h = new Builder();
        h.put('c1', 'k', 'v1', a1);
        const b1 = dvv(N2, 1);
        const x = h.put('c2', 'k', 'x', b1); // its reply covers v1: c2's write landed beside it
        h.ops[x - 1]!.replyContext = ctx(a1, b1);
        const over = dvv(N2, 2, [a1, b1]);
        h.put('c2', 'k', 'v2', over, ctx(a1, b1));
        expect(checkHistory(h.ops, finalOf({ k: [['v2', over]] })), 'reply context').to.deep.equal([]);

        const o = new Builder();
        const lost = o.put('c1', 'k', 'v1', a1);
        const overwrite = dvv(N2, 1, [a1]);
        const w = o.put('c2', 'k', 'v2', overwrite, ''); // SET: the owner applied what it held
        o.ops[w - 1]!.superseded = ctx(a1);
        expect(checkHistory(o.ops, finalOf({ k: [['v2', overwrite]] })), 'overwrite after the put').to.deep.equal([]);
        // The same overwrite completing before the put was invoked cannot have held it.
        const early = o.ops.map((op) => ({ ...op }));
        early[w - 1]!.invoked_ms = -10;
        early[w - 1]!.completed_ms = -5;
        expect(brief(checkHistory(early, finalOf({ k: [['v2', overwrite]] })))).to.deep.equal([['lost-write', 'k', [lost]]]);
      });
    });

    describe('overwrites (SET/DEL): they supersede what the owner held', () => {
      const a1 = dvv(N1, 1);

      /** Put #1 by c1, then an overwrite #2 by c2 (no context), then a strict get #3 by c1 that misses #1. */
      function overwritten(outcome: Outcome, superseded?: string): { ops: HistoryOp[]; final: FinalState } {
        const h = new Builder();
        h.put('c1', 'k', 'v1', a1, '', 'ok', true);
        const over = dvv(N2, 1, [a1]);
        const w = h.put('c2', 'k', 'v2', outcome === 'ok' ? over : null, '', outcome);
        h.ops[w - 1]!.overwrite = true;
        if (superseded !== undefined) h.ops[w - 1]!.superseded = superseded;
        h.get('c1', 'k', outcome === 'ok' ? [['v2', over]] : [], true);
        return { ops: h.ops, final: finalOf({ k: outcome === 'ok' ? [['v2', over]] : [] }) };
      }

      it('an acknowledged overwrite whose applied context covers the put supersedes it (lost-write and read-your-writes)', () => {
        const { ops, final } = overwritten('ok', ctx(a1));
        expect(checkHistory(ops, final)).to.deep.equal([]);
        const blind = overwritten('ok', '');
        expect(brief(checkHistory(blind.ops, blind.final)).map(([p]) => p).sort(), 'an overwrite that held nothing').to.deep.equal(['lost-write', 'read-your-writes']);
      });

      it('an overwrite of unknown outcome may have superseded anything minted before it; not what came after it', () => {
        const { ops, final } = overwritten('unknown');
        expect(checkHistory(ops, final)).to.deep.equal([]);
        const early = ops.map((op) => ({ ...op }));
        early[1] = { ...early[1]!, invoked_ms: -10, completed_ms: -5, outcome: 'failed' }; // over before the put began
        expect(brief(checkHistory(early, final)).map(([p]) => p).sort()).to.deep.equal(['lost-write', 'read-your-writes']);
      });
    });

    describe('lost in the sync window (periodic sync): listed apart, not a violation', () => {
      /** A history where put #1, stored on `storedOn`, is missing from the final read. */
      function lostPut(storedOn: string[]): { ops: HistoryOp[]; final: FinalState } {
        const h = new Builder();
        h.put('c1', 'k', 'v1', dvv(N1, 1)); // invoked 0, completed 1
        h.ops[0]!.stored_on = storedOn;
        return { ops: h.ops, final: finalOf({ k: [] }) };
      }

      it('every node that stored it crashed within window_ms of the ack: lostInSyncWindow', () => {
        const { ops, final } = lostPut(['n1', 'n2']);
        final.sync = { mode: 'periodic', window_ms: 100 };
        final.crashes = [{ node: 'n1', at_ms: 50, restarted_ms: 60 }, { node: 'n2', at_ms: 101, restarted_ms: null }];
        const report = checkHistoryReport(ops, final);
        expect(report.violations).to.deep.equal([]);
        expect(report.lostInSyncWindow.map((l) => [l.key, l.op])).to.deep.equal([['k', 1]]);
        expect(report.lostInSyncWindow[0]!.detail).to.contain('n1 crashed at 50 ms').and.contain('n2 crashed at 101 ms');
        expect(checkHistory(ops, final)).to.deep.equal([]);
      });

      const rows: ReadonlyArray<[string, (f: FinalState, ops: HistoryOp[]) => void]> = [
        ['a node crashed after the window', (f) => (f.crashes![1]!.at_ms = 102)],
        ['a node did not crash', (f) => f.crashes!.pop()],
        ['a hint holder stored it (hint stores survive crashes)', (_f, ops) => ops[0]!.stored_on!.push('n3>n1')],
        ['the run used batch sync', (f) => (f.sync = { mode: 'batch', window_ms: 100 })],
        ['the history does not say where it was stored', (_f, ops) => delete ops[0]!.stored_on],
      ];
      for (const [name, change] of rows) {
        it(`${name}: lost-write`, () => {
          const { ops, final } = lostPut(['n1', 'n2']);
          final.sync = { mode: 'periodic', window_ms: 100 };
          final.crashes = [{ node: 'n1', at_ms: 50, restarted_ms: 60 }, { node: 'n2', at_ms: 101, restarted_ms: null }];
          change(final, ops);
          const report = checkHistoryReport(ops, final);
          expect(brief(report.violations)).to.deep.equal([['lost-write', 'k', [1]]]);
          expect(report.lostInSyncWindow).to.deep.equal([]);
        });
      }
    });

    describe('lost with a node removed for good (issue 16): listed apart, not a violation', () => {
      function lostPut(storedOn: string[]): { ops: HistoryOp[]; final: FinalState } {
        const h = new Builder();
        h.put('c1', 'k', 'v1', dvv(N1, 1));
        h.ops[0]!.stored_on = storedOn;
        const final = finalOf({ k: [] });
        final.removed = [{ node: 'n1', at_ms: 50 }];
        return { ops: h.ops, final };
      }

      const excused: ReadonlyArray<[string, string[], boolean]> = [
        ['stored only on the removed node', ['n1'], false],
        ["the removed node and a hint for it (dropped with it)", ['n1', 'n3>n1'], false],
        ['the removed node and a hint for another owner, in a run whose hints expire', ['n1', 'n4>n3'], true],
      ];
      for (const [name, storedOn, hintsExpire] of excused) {
        it(`${name}: lostWithRemovedNode`, () => {
          const { ops, final } = lostPut(storedOn);
          final.hintsExpire = hintsExpire;
          const report = checkHistoryReport(ops, final);
          expect(report.violations).to.deep.equal([]);
          expect(report.lostWithRemovedNode.map((l) => [l.key, l.op])).to.deep.equal([['k', 1]]);
        });
      }
      const violations: ReadonlyArray<[string, string[], boolean]> = [
        ['a node that stayed stored it', ['n1', 'n2'], true],
        ['a hint for a live owner, hints never expiring', ['n1', 'n4>n3'], false],
      ];
      for (const [name, storedOn, hintsExpire] of violations) {
        it(`${name}: lost-write`, () => {
          const { ops, final } = lostPut(storedOn);
          final.hintsExpire = hintsExpire;
          const report = checkHistoryReport(ops, final);
          expect(brief(report.violations)).to.deep.equal([['lost-write', 'k', [1]]]);
          expect(report.lostWithRemovedNode).to.deep.equal([]);
        });
      }
    });

    it('rejects malformed histories with InvalidRequestError', () => {
      const h = new Builder();
      h.put('c1', 'k', 'v1', dvv(N1, 1));
      const final = finalOf({ k: [] });
      expect(() => checkHistory([{ ...h.ops[0]!, version: undefined }], final)).to.throw(InvalidRequestError, /receipt.version/);
      expect(() => checkHistory([h.ops[0]!, h.ops[0]!], final)).to.throw(InvalidRequestError, /increasing/);
      expect(() => checkHistory([{ ...h.ops[0]!, context: 'not base64!' }], final)).to.throw(InvalidRequestError, /op #1/);
      expect(() => checkHistory([{ ...h.ops[0]!, version: 'nocounter' }], final)).to.throw(InvalidRequestError, /actor:counter/);
    });
  });

  describe('recorder and JSON form', () => {
    it('records invocations and completions, leaves unfinished ops unknown, and round-trips through JSON', () => {
      const recorder = new HistoryRecorder();
      const put = recorder.invoke('c1', 'put', 'k', { invoked_ms: 10, value: 'v1', ryw: true });
      const get = recorder.invoke('c2', 'get', 'k', { invoked_ms: 11 });
      const lost = recorder.invoke('c3', 'delete', 'k', { invoked_ms: 12, context: 'abc' });
      const timedOut = recorder.invoke('c4', 'put', 'k', { invoked_ms: 13, value: 'v2', overwrite: true });
      recorder.complete(put, 'ok', { version: `${N1}:1`, stored_on: ['n1', 'n3>n2'], superseded: '', replyContext: ctx(dvv(N1, 1)) }, 15);
      recorder.complete(get, 'ok', { values: ['v1'], versions: [`${N1}:1`], readContext: ctx(dvv(N1, 1)) }, 16);
      recorder.complete(timedOut, 'unknown', {}, 20);
      const ops = recorder.ops();
      expect(ops.map((op) => [op.id, op.outcome, op.completed_ms])).to.deep.equal([
        [put, 'ok', 15],
        [get, 'ok', 16],
        [lost, 'unknown', null],
        [timedOut, 'unknown', null],
      ]);
      expect(ops[0]).to.deep.include({ context: '', ryw: true, version: `${N1}:1`, stored_on: ['n1', 'n3>n2'], superseded: '', replyContext: ctx(dvv(N1, 1)) });
      expect(ops[3]!.overwrite).to.equal(true);
      expect(() => recorder.complete(put, 'ok', { version: `${N1}:1` }, 30)).to.throw(/completes once/);
      const final: FinalState = {
        reads: new Map([['__proto__', { values: [], versions: [] }], ['k', { values: ['v1'], versions: [`${N1}:1`] }]]),
        replicas: new Map([['k', new Map([['n1', [`${N1}:1=0a0b0c0d`]]])]]),
        crashes: [{ node: 'n1', at_ms: 12, restarted_ms: null }],
        sync: { mode: 'periodic', window_ms: 100 },
        dotConflicts: 0,
      };
      const loaded = historyFromJson(historyToJson(ops, final));
      expect(loaded.ops).to.deep.equal(ops);
      expect(loaded.final).to.deep.equal(final);
      expect(historyFromJson(historyToJson(ops)).final).to.equal(null);
      // Version 1 files (before issue 12) still load: they lack only optional fields.
      const v1 = JSON.parse(historyToJson(ops)) as Record<string, unknown>;
      v1['format_version'] = 1;
      expect(historyFromJson(JSON.stringify(v1)).ops).to.deep.equal(ops);
    });

    it('bounds the ops it holds, and rejects malformed JSON with InvalidRequestError', () => {
      const recorder = new HistoryRecorder(2);
      recorder.invoke('c1', 'get', 'k', { invoked_ms: 0 });
      recorder.invoke('c1', 'get', 'k', { invoked_ms: 1 });
      expect(() => recorder.invoke('c1', 'get', 'k', { invoked_ms: 2 })).to.throw(OverloadedError);
      const good = JSON.parse(historyToJson(recorder.ops())) as { ops: Array<Record<string, unknown>> };
      expect(() => historyFromJson('{')).to.throw(InvalidRequestError);
      expect(() => historyFromJson('{"format":"other"}')).to.throw(InvalidRequestError, /format/);
      good.ops[0]!['invoked_ms'] = 'soon';
      expect(() => historyFromJson(JSON.stringify(good))).to.throw(InvalidRequestError, /invoked_ms/);
      good.ops[0]!['invoked_ms'] = 0;
      good.ops[1]!['kind'] = 'scan';
      expect(() => historyFromJson(JSON.stringify(good))).to.throw(InvalidRequestError, /kind/);
    });
  });

  describe('against a correct model of a DVV store', () => {
    it('finds no violation in model histories, and a lost-write when one acknowledged version is dropped', () => {
      const command = fc.record({
        client: fc.integer({ min: 0, max: 2 }),
        key: fc.integer({ min: 0, max: 1 }),
        kind: fc.constantFrom('put' as const, 'delete' as const, 'get' as const),
        context: fc.constantFrom('read' as const, 'write' as const, 'blind' as const),
        actor: fc.integer({ min: 0, max: 2 }),
        outcome: fc.constantFrom('ok' as const, 'ok' as const, 'failed' as const, 'landed' as const, 'vanished' as const),
      });
      // What the generated histories exercised, so this cannot pass on trivial histories.
      const seen = { siblingReads: 0, contextualDeletes: 0, unknownWrites: 0 };
      const prop = fc.property(fc.array(command, { maxLength: 80, size: 'max' }), fc.nat(), (commands, pick) => {
        const model = new ModelCluster();
        for (const c of commands) model.run(`c${c.client}`, `k${c.key}`, c.kind, c.context, `n${c.actor}#epoch0`, c.outcome);
        // A last blind put: an acknowledged version nothing covers, so dropping it must be a lost write.
        model.run('c0', 'k0', 'put', 'blind', 'n0#epoch0', 'ok');
        const { history, final } = model.finish();
        for (const op of history) {
          if (op.kind === 'get' && (op.versions?.length ?? 0) >= 2) seen.siblingReads++;
          if (op.kind === 'delete' && op.outcome === 'ok' && op.context !== '') seen.contextualDeletes++;
          if (op.kind !== 'get' && op.outcome === 'unknown') seen.unknownWrites++;
        }
        const clean = checkHistory(history, final);
        expect(clean, clean.map((v) => formatViolation(v, SEED)).join('\n')).to.deep.equal([]);

        const candidates = history.filter(
          (op) =>
            op.kind === 'put' &&
            op.outcome === 'ok' &&
            final.reads.get(op.key)!.versions.includes(op.version!) &&
            !history.some((x) => x.key === op.key && x.kind !== 'get' && coversDot(contextFromString(x.context!), { ...parseVersion(op.version!), ts_ms: 0 })),
        );
        const dropped = candidates[pick % candidates.length]!;
        const read = final.reads.get(dropped.key)!;
        const at = read.versions.indexOf(dropped.version!);
        read.values.splice(at, 1);
        read.versions.splice(at, 1);
        expect(brief(checkHistory(history, final))).to.deep.equal([['lost-write', dropped.key, [dropped.id]]]);
      });
      fc.assert(prop, { seed: SEED, numRuns: 300 });
      expect(seen.siblingReads, 'reads with siblings').to.be.above(0);
      expect(seen.contextualDeletes, 'deletes with a context').to.be.above(0);
      expect(seen.unknownWrites, 'writes of unknown outcome').to.be.above(0);
      console.log(`      model histories exercised: ${JSON.stringify(seen)}`);
    });

    it('a dropped acknowledged put is listed as lost in the sync window exactly when every node that stored it crashed within the window', () => {
      const window_ms = 10;
      const seen = { inWindow: 0, violations: 0 };
      const prop = fc.property(
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 5, maxLength: 30 }),
        fc.constantFrom('periodic' as const, 'batch' as const),
        fc.array(fc.constantFrom('n1', 'n2', 'n3', 'n3>n1'), { minLength: 1, maxLength: 3 }),
        fc.array(fc.integer({ min: -5, max: 20 }), { minLength: 4, maxLength: 4 }),
        (clients, mode, storedOn, crashOffsets) => {
          const model = new ModelCluster();
          for (const c of clients) model.run(`c${c}`, 'k', 'put', 'blind', 'n0#epoch0', 'ok');
          const { history, final } = model.finish();
          const dropped = history[history.length - 1]!;
          dropped.stored_on = [...new Set(storedOn)];
          const read = final.reads.get('k')!;
          const at = read.versions.indexOf(dropped.version!);
          read.values.splice(at, 1);
          read.versions.splice(at, 1);
          delete final.replicas;
          final.sync = { mode, window_ms };
          final.crashes = ['n1', 'n2', 'n3', 'n4'].map((node, i) => ({ node, at_ms: dropped.invoked_ms + crashOffsets[i]!, restarted_ms: null }));
          // The oracle, stated directly: periodic sync, no hint holder, every node crashed in [invoked, completed + window].
          const crashedInWindow = (node: string): boolean => {
            const crash = final.crashes!.find((c) => c.node === node)!;
            return crash.at_ms >= dropped.invoked_ms && crash.at_ms <= dropped.completed_ms! + window_ms;
          };
          const explained = mode === 'periodic' && dropped.stored_on.every((node) => !node.includes('>') && crashedInWindow(node));
          const report = checkHistoryReport(history, final);
          if (explained) {
            seen.inWindow++;
            expect(report.violations).to.deep.equal([]);
            expect(report.lostInSyncWindow.map((l) => l.op)).to.deep.equal([dropped.id]);
          } else {
            seen.violations++;
            expect(brief(report.violations)).to.deep.equal([['lost-write', 'k', [dropped.id]]]);
            expect(report.lostInSyncWindow).to.deep.equal([]);
          }
        },
      );
      fc.assert(prop, { seed: SEED, numRuns: 300 });
      expect(seen.inWindow, 'cases explained by the window').to.be.above(0);
      expect(seen.violations, 'cases not explained').to.be.above(0);
    });

    it('checks a 100k-op model history (scale; timing printed, not asserted)', () => {
      const prng = new Prng(SEED);
      const model = new ModelCluster();
      const kinds = ['put', 'put', 'get', 'get', 'delete'] as const;
      const contexts = ['read', 'read', 'write', 'blind'] as const;
      const outcomes = ['ok', 'ok', 'ok', 'ok', 'failed', 'landed', 'vanished'] as const;
      for (let i = 0; i < 100_000; i++) {
        model.run(`c${prng.int(32)}`, `k${prng.int(2000)}`, prng.pick(kinds), prng.pick(contexts), `n${prng.int(5)}#epoch0`, prng.pick(outcomes));
      }
      const { history, final } = model.finish();
      const started_ms = performance.now();
      const found = checkHistory(history, final);
      console.log(`      checked ${history.length} ops over ${final.reads.size} keys in ${(performance.now() - started_ms).toFixed(0)} ms`);
      expect(history.length).to.equal(100_000);
      expect(found.map((v) => formatViolation(v, SEED)).slice(0, 5)).to.deep.equal([]);
    });
  });
});

/** One stored version of the model: its clock and its value (null = tombstone). */
interface ModelVersion {
  clock: Dvv;
  value: string | null;
}

/**
 * A correct DVV store with one replica per key, run one op at a time: writes
 * go through `update` and `sync` as a coordinator's do, reads return `join`
 * of the whole sibling set. Every op is strict (ryw): one replica is
 * linearizable. Outcomes: 'landed' and 'vanished' are both recorded as
 * unknown; only 'landed' is applied.
 */
class ModelCluster {
  private readonly stores = new Map<string, ModelVersion[]>();
  private readonly floors = new Map<string, number>();
  private readonly lastRead = new Map<string, string>();
  private readonly lastWrite = new Map<string, string>();
  private readonly ops: HistoryOp[] = [];
  private now_ms = 0;

  run(
    client: string,
    key: string,
    kind: 'put' | 'delete' | 'get',
    contextFrom: 'read' | 'write' | 'blind',
    actor: string,
    outcome: 'ok' | 'failed' | 'landed' | 'vanished',
  ): void {
    const id = this.ops.length + 1;
    const invoked_ms = (this.now_ms += 2);
    const recorded: Outcome = outcome === 'ok' ? 'ok' : outcome === 'failed' ? 'failed' : 'unknown';
    const completed_ms = recorded === 'unknown' ? null : invoked_ms + 1;
    const op: HistoryOp = { id, client, key, kind, invoked_ms, completed_ms, outcome: recorded, ryw: true };
    const store = this.stores.get(key) ?? [];
    const ck = `${client}/${key}`;
    if (kind === 'get') {
      if (recorded === 'ok') {
        const live = store.filter((v) => v.value !== null);
        op.values = live.map((v) => v.value!);
        op.versions = live.map((v) => formatVersion(v.clock.dot));
        op.readContext = contextToString(join(store.map((v) => v.clock)));
        this.lastRead.set(ck, op.readContext);
      }
      this.ops.push(op);
      return;
    }
    op.context = contextFrom === 'blind' ? '' : ((contextFrom === 'read' ? this.lastRead : this.lastWrite).get(ck) ?? '');
    if (kind === 'put') op.value = `v${id}`;
    if (outcome === 'ok' || outcome === 'landed') {
      const clock = update(contextFromString(op.context), store.map((v) => v.clock), actor, invoked_ms, this.floors.get(actor) ?? 0);
      this.floors.set(actor, clock.dot.counter);
      const next = syncBy(store, [{ clock, value: op.value ?? null }], (v) => v.clock);
      this.stores.set(key, next);
      if (outcome === 'ok') {
        op.version = formatVersion(clock.dot);
        op.replyContext = contextToString(join(next.map((v) => v.clock)));
        this.lastWrite.set(ck, op.replyContext);
      }
    }
    this.ops.push(op);
  }

  /** The history and the final state: a read of every key and two identical replicas. */
  finish(): { history: HistoryOp[]; final: FinalState } {
    const reads: FinalState['reads'] = new Map();
    const replicas: NonNullable<FinalState['replicas']> = new Map();
    for (const key of new Set(this.ops.map((op) => op.key))) {
      const store = this.stores.get(key) ?? [];
      const live = store.filter((v) => v.value !== null);
      reads.set(key, { values: live.map((v) => v.value!), versions: live.map((v) => formatVersion(v.clock.dot)) });
      const all = store.map((v) => formatVersion(v.clock.dot));
      replicas.set(key, new Map([['r1', all], ['r2', [...all].reverse()]]));
    }
    return { history: this.ops, final: { reads, replicas } };
  }
}
