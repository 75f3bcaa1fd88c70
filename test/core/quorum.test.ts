import { expect } from 'chai';
import fc from 'fast-check';
import { majority, resolveRequirement, type Requirement } from '../../src/core/consistency.js';
import { InvalidRequestError, UnavailableError } from '../../src/core/errors.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { RETRY_ATTEMPTS_MAX, RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS } from '../../src/core/limits.js';
import { QuorumTracker, retryDelayMs, type QuorumRequest, type ReplicaReply } from '../../src/core/quorum.js';

const SEED = seedFrom(process.env['SEED'], Date.now());

/** Owners "n1".."nk" in dc1, then "m1".. in dc2. */
function owners(dc1: number, dc2 = 0): { node: string; dc: string }[] {
  return [
    ...Array.from({ length: dc1 }, (_, i) => ({ node: `n${i + 1}`, dc: 'dc1' })),
    ...Array.from({ length: dc2 }, (_, i) => ({ node: `m${i + 1}`, dc: 'dc2' })),
  ];
}

/** A reply shorthand: "n1+" ok, "n1-" error, "f1>n2+" fallback f1 (in dc1) for n2; "m1" nodes are in dc2. */
function reply(text: string): ReplicaReply {
  const ok = text.endsWith('+');
  const body = text.slice(0, -1);
  const [node, standingInFor] = body.includes('>') ? body.split('>') : [body, undefined];
  const dc = node!.startsWith('m') || node!.startsWith('g') ? 'dc2' : 'dc1';
  return { node: node!, dc, ok, ...(ok ? {} : { error: 'timeout' }), ...(standingInFor ? { standingInFor } : {}) };
}

type Row = [name: string, request: Omit<QuorumRequest, 'op'> & { op?: 'read' | 'write' }, replies: string[], outcomes: string];

describe('core/quorum', () => {
  before(() => console.log(`      SEED=${SEED} (replay with SEED=${SEED})`));

  describe('tracker outcome after each reply (p = pending, s = satisfied, f = failed)', () => {
    const base = { coordinatorDc: 'dc1', strict: false };
    const rows: Row[] = [
      ['n=3 w=2: two acks', { ...base, owners: owners(3), required: 2 }, ['n1+', 'n2+', 'n3+'], 'pss'],
      ['n=3 w=2: one error then two acks', { ...base, owners: owners(3), required: 2 }, ['n1-', 'n2+', 'n3+'], 'pps'],
      ['n=3 w=2: two errors fail at once', { ...base, owners: owners(3), required: 2 }, ['n1-', 'n2-', 'n3+'], 'pff'],
      ['n=3 all: the first error fails', { ...base, owners: owners(3), required: 'all' }, ['n1+', 'n2-', 'n3+'], 'pff'],
      ['n=3 one: the first ack', { ...base, owners: owners(3), required: 'one' }, ['n1-', 'n2+'], 'ps'],
      ['n=3 one: all errors', { ...base, owners: owners(3), required: 'one' }, ['n1-', 'n2-', 'n3-'], 'ppf'],
      ['n=5 quorum needs 3', { ...base, owners: owners(5), required: 'quorum' }, ['n1+', 'n2+', 'n3-', 'n4+'], 'ppps'],
      ['duplicates count once', { ...base, owners: owners(3), required: 2 }, ['n1+', 'n1+', 'n1+', 'n2+'], 'ppps'],
      ['a duplicate error after an ack is ignored', { ...base, owners: owners(3), required: 3 }, ['n1+', 'n1-', 'n2+', 'n3+'], 'ppps'],
      ['sloppy: a fallback ack counts', { ...base, owners: owners(3), required: 3 }, ['n1+', 'n2+', 'f1>n3+'], 'pps'],
      [
        'sloppy: a fallback target added before its owner fails keeps the request alive',
        { ...base, owners: owners(3), required: 3, targets: [...owners(3), { node: 'f1', dc: 'dc1', standingInFor: 'n3' }] },
        ['n1+', 'n2+', 'n3-', 'f1>n3+'],
        'ppps',
      ],
      ['strict: a fallback ack does not count', { ...base, strict: true, owners: owners(3), required: 2 }, ['n1+', 'f1>n2+', 'n2-', 'n3-'], 'pppf'],
      [
        'strict: fallback targets are no capacity',
        { ...base, strict: true, owners: owners(3), required: 3, targets: [...owners(2), { node: 'f1', dc: 'dc1', standingInFor: 'n3' }] },
        ['n1+'],
        'f',
      ],
      ['pending replica (a join streams): w=2 of 3 needs 3 of 4', { ...base, owners: owners(3), required: 2, pending: [{ node: 'p1', dc: 'dc1' }] }, ['n1+', 'n2+', 'p1+'], 'pps'],
      ['pending replica: an old owner and the pending one failing fail w=2', { ...base, owners: owners(3), required: 2, pending: [{ node: 'p1', dc: 'dc1' }] }, ['n1+', 'p1-', 'n2-'], 'ppf'],
      ['pending replica: quorum + 1 with a level', { ...base, owners: owners(3), required: 'quorum', pending: [{ node: 'p1', dc: 'dc1' }] }, ['n1+', 'n2+', 'n3+'], 'pps'],
      ['pending replica in dc2 does not raise local_quorum in dc1', { ...base, owners: owners(3, 2), required: 'local_quorum', pending: [{ node: 'g1', dc: 'dc2' }] }, ['n1+', 'n2+'], 'ps'],
      ['local_quorum: 2 of 3 in dc1, dc2 ignored', { ...base, owners: owners(3, 2), required: 'local_quorum' }, ['m1+', 'm2+', 'n1+', 'n2+'], 'ppps'],
      ['local_quorum: dc1 down fails though dc2 answers', { ...base, owners: owners(3, 2), required: 'local_quorum' }, ['m1+', 'n1-', 'n2-'], 'ppf'],
      ['local_quorum from dc2', { ...base, coordinatorDc: 'dc2', owners: owners(3, 2), required: 'local_quorum' }, ['n1+', 'm1+', 'm2+'], 'pps'],
      ['each_quorum: needs 2 in dc1 and 2 in dc2', { ...base, owners: owners(3, 2), required: 'each_quorum' }, ['n1+', 'n2+', 'n3+', 'm1+', 'm2+'], 'pppps'],
      ['each_quorum: one dc2 error fails (2 of 2 needed)', { ...base, owners: owners(3, 2), required: 'each_quorum' }, ['n1+', 'n2+', 'm1-'], 'ppf'],
      [
        'each_quorum: a fallback counts in the dc it is in',
        { ...base, owners: owners(3, 2), required: 'each_quorum', targets: [...owners(3, 2), { node: 'g1', dc: 'dc2', standingInFor: 'm2' }] },
        ['n1+', 'n2+', 'm1+', 'm2-', 'g1>m2+'],
        'pppps',
      ],
      ['the outcome is final: later errors do not undo a success', { ...base, owners: owners(3), required: 1 }, ['n1+', 'n2-', 'n3-'], 'sss'],
      ['the outcome is final: a late ack does not undo a failure', { ...base, owners: owners(3), required: 3 }, ['n1-', 'n2+', 'n3+'], 'fff'],
    ];
    for (const [name, request, replies, expected] of rows) {
      it(`${name}: ${replies.join(' ')} → ${expected}`, () => {
        const tracker = new QuorumTracker({ op: 'write', ...request });
        const got = replies.map((r) => tracker.record(reply(r)).status[0]).join('');
        expect(got).to.equal(expected);
      });
    }
  });

  it('each_quorum with a fallback in dc2: the fallback and m1 make dc2 quorum', () => {
    const tracker = new QuorumTracker({ op: 'write', owners: owners(3, 3), required: 'each_quorum', coordinatorDc: 'dc1', strict: false });
    for (const r of ['n1+', 'n2+', 'm1+', 'm2-']) tracker.record(reply(r));
    expect(tracker.outcome().status).to.equal('pending');
    expect(tracker.record(reply('g1>m2+')).status).to.equal('satisfied');
  });

  describe('error messages say how many were reachable of how many needed', () => {
    const rows: ReadonlyArray<[QuorumRequest, string[], number, number, string]> = [
      [{ op: 'write', owners: owners(3), required: 3, coordinatorDc: 'dc1', strict: false }, ['n1-'], 2, 3, '2 of 3 replicas reachable, w=3 needed'],
      [{ op: 'read', owners: owners(3), required: 'quorum', coordinatorDc: 'dc1', strict: false }, ['n1-', 'n2-'], 1, 2, '1 of 3 replicas reachable, r=quorum (2) needed'],
      [
        { op: 'write', owners: owners(3, 2), required: 'local_quorum', coordinatorDc: 'dc1', strict: false },
        ['n1-', 'n2-'],
        1,
        2,
        '1 of 3 replicas in dc1 reachable, w=local_quorum (2 in dc1) needed',
      ],
      [
        { op: 'write', owners: owners(3), required: 2, coordinatorDc: 'dc1', strict: true },
        ['f1>n1+', 'n1-', 'n2-'],
        1,
        2,
        '1 of 3 replicas reachable, w=2 needed; strict quorum: fallback replicas do not count',
      ],
    ];
    for (const [request, replies, answered, needed, detail] of rows) {
      it(detail, () => {
        const tracker = new QuorumTracker(request);
        let outcome = tracker.outcome();
        for (const r of replies) outcome = tracker.record(reply(r));
        if (outcome.status !== 'failed') throw new Error(`expected failure, got ${outcome.status}`);
        expect(outcome.error).to.be.instanceOf(UnavailableError);
        expect(outcome.error.answered).to.equal(answered);
        expect(outcome.error.needed).to.equal(needed);
        expect(outcome.error.message).to.include(`only ${answered} of the ${needed} required replicas answered (${detail})`);
      });
    }
  });

  it('the receipt lists acks in arrival order with whom each fallback stood in for, and the failures', () => {
    const tracker = new QuorumTracker({ op: 'write', owners: owners(3), required: 3, coordinatorDc: 'dc1', strict: false });
    for (const r of ['n1+', 'f1>n3+', 'n3-', 'n1+']) tracker.record(reply(r));
    const outcome = tracker.record(reply('n2+'));
    if (outcome.status !== 'satisfied') throw new Error(`expected success, got ${outcome.status}`);
    expect(outcome.receipt).to.deep.equal({
      op: 'write',
      required: '3',
      acks: [
        { node: 'n1', dc: 'dc1', standingInFor: null, counted: true },
        { node: 'f1', dc: 'dc1', standingInFor: 'n3', counted: true },
        { node: 'n2', dc: 'dc1', standingInFor: null, counted: true },
      ],
      failures: [{ node: 'n3', dc: 'dc1', error: 'timeout' }],
    });
  });

  it('strict receipts mark fallback acks as not counted', () => {
    const tracker = new QuorumTracker({ op: 'write', owners: owners(3), required: 1, coordinatorDc: 'dc1', strict: true });
    tracker.record(reply('f1>n1+'));
    expect(tracker.receipt().acks).to.deep.equal([{ node: 'f1', dc: 'dc1', standingInFor: 'n1', counted: false }]);
  });

  it('invalid requirements are refused', () => {
    const perDc = new Map([['dc1', 3]]);
    expect(() => resolveRequirement(0, perDc, 'dc1')).to.throw(InvalidRequestError);
    expect(() => resolveRequirement(4, perDc, 'dc1')).to.throw(InvalidRequestError);
    expect(() => resolveRequirement(1.5, perDc, 'dc1')).to.throw(InvalidRequestError);
    expect(() => resolveRequirement('local_quorum', perDc, 'dc9')).to.throw(InvalidRequestError, /local_quorum/);
    expect(() => resolveRequirement('twice' as Requirement, perDc, 'dc1')).to.throw(InvalidRequestError);
    expect([1, 2, 3, 4, 5].map(majority)).to.deep.equal([1, 2, 2, 3, 3]);
  });

  it('never a silent partial success: random reply orders agree with a direct count (w of n, duplicates included)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }).chain((n) =>
          fc.tuple(fc.constant(n), fc.integer({ min: 1, max: n }), fc.array(fc.tuple(fc.integer({ min: 1, max: n }), fc.boolean()), { maxLength: 20 })),
        ),
        ([n, w, sequence]) => {
          const tracker = new QuorumTracker({ op: 'write', owners: owners(n), required: w, coordinatorDc: 'dc1', strict: false });
          const first = new Map<number, boolean>();
          let decided: string | null = null;
          for (const [i, ok] of sequence) {
            if (!first.has(i)) first.set(i, ok);
            const oks = [...first.values()].filter((v) => v).length;
            const errors = first.size - oks;
            const now = oks >= w ? 'satisfied' : n - errors < w ? 'failed' : 'pending';
            decided ??= now === 'pending' ? null : now;
            expect(tracker.record(reply(`n${i}${ok ? '+' : '-'}`)).status).to.equal(decided ?? 'pending');
          }
        },
      ),
      { numRuns: 500, seed: SEED | 0 },
    );
  });

  describe('retry backoff (full jitter)', () => {
    it('stays within [0, min(cap, base * 2^attempt)) and stops after RETRY_ATTEMPTS_MAX', () => {
      const prng = new Prng(SEED);
      for (let attempt = 0; attempt < RETRY_ATTEMPTS_MAX; attempt++) {
        const ceiling = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** attempt);
        for (let i = 0; i < 100; i++) {
          const delay = retryDelayMs(attempt, prng.next());
          expect(delay).to.be.a('number').within(0, ceiling - 1);
        }
        expect(retryDelayMs(attempt, 0)).to.equal(0);
        expect(retryDelayMs(attempt, 0.999999)).to.equal(ceiling - 1);
      }
      expect(retryDelayMs(RETRY_ATTEMPTS_MAX, 0.5)).to.equal(null);
    });

    it('table: attempt, random, base, cap → delay', () => {
      const rows: ReadonlyArray<[number, number, number, number, number, number | null]> = [
        [0, 0.5, 100, 1000, 10, 50],
        [1, 0.5, 100, 1000, 10, 100],
        [3, 0.5, 100, 1000, 10, 400],
        [4, 0.5, 100, 1000, 10, 500],
        [9, 0.999, 100, 1000, 10, 999],
        [10, 0.5, 100, 1000, 10, null],
        [60, 0.5, 100, 1000, 100, 500],
      ];
      for (const [attempt, random, base, cap, max, expected] of rows) {
        expect(retryDelayMs(attempt, random, base, cap, max), `attempt ${attempt}`).to.equal(expected);
      }
      expect(() => retryDelayMs(0, 1)).to.throw();
      expect(() => retryDelayMs(-1, 0.5)).to.throw();
    });
  });
});
