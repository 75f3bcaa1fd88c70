/**
 * The ask table's deadlines (src/runtime/ask_table.ts): one timer per table,
 * asks bucketed by deadline tick. Every ask settles exactly once: by its
 * answer, or by a TimeoutError no earlier than its deadline and at most about
 * one tick after it; names are built only for errors. Seeded; replay with SEED=.
 */
import { expect } from 'chai';
import { IndeterminateError, TimeoutError } from '../../src/core/errors.js';
import { ASK_DEADLINE_TICK_MS } from '../../src/core/limits.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { AskTable } from '../../src/runtime/ask_table.js';

const SEED = seedFrom(process.env.SEED, Date.now());
/** Slack for a loaded machine's timer lateness, on top of the one tick the design allows. */
const LATE_SLACK_MS = 1000;

describe(`ask table deadlines (SEED=${SEED})`, function () {
  this.timeout(20_000);

  it('an unanswered ask times out at its deadline, within a tick (plus timer lateness)', async () => {
    const table = new AskTable();
    const start = performance.now();
    const { promise } = table.open('ask to t1/x (type=get)', 40);
    const err = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    const took = performance.now() - start;
    expect(err).to.be.instanceOf(TimeoutError);
    expect(String((err as Error).message)).to.contain('ask to t1/x (type=get)');
    expect(took).to.be.at.least(40 - 1);
    expect(took).to.be.below(40 + ASK_DEADLINE_TICK_MS + LATE_SLACK_MS);
    expect(table.size).to.equal(0);
  });

  it('answered asks never time out, and a name function is called only for an error', async () => {
    const table = new AskTable();
    let named = 0;
    const opened = Array.from({ length: 100 }, (_, i) =>
      table.open<number>(
        () => {
          named++;
          return `ask ${i}`;
        },
        20,
      ),
    );
    opened.forEach(({ id }, i) => expect(table.resolve(id, i)).to.equal(true));
    expect(await Promise.all(opened.map((o) => o.promise))).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
    await new Promise((r) => setTimeout(r, 40));
    expect(named).to.equal(0);
    expect(table.resolve(opened[0]!.id, 1), 'settled once').to.equal(false);
  });

  it('mixed deadlines, answers and thread deaths: each ask settles once, timeouts never early (seeded)', async () => {
    const prng = new Prng(SEED);
    const table = new AskTable();
    const asks = Array.from({ length: 400 }, (_, i) => {
      const timeout_ms = 5 + prng.int(120);
      const opened_ms = performance.now();
      const { id, promise } = table.open<number>(`ask ${i}`, timeout_ms, prng.int(4));
      const fate = prng.pick(['answer', 'error', 'timeout', 'timeout'] as const);
      const settled = promise.then(
        (v) => ({ kind: 'value' as const, v, at: performance.now() }),
        (e: unknown) => ({ kind: 'error' as const, e, at: performance.now() }),
      );
      return { i, id, timeout_ms, opened_ms, fate, settled };
    });
    for (const ask of asks) {
      if (ask.fate === 'answer') setTimeout(() => table.resolve(ask.id, ask.i), prng.int(ask.timeout_ms));
      if (ask.fate === 'error') table.reject(ask.id, new Error(`refused ${ask.i}`));
    }
    // Thread 3 dies: its undecided asks get IndeterminateError at once.
    const died = table.rejectTo(3, (what) => new IndeterminateError(what, 'thread 3 crashed'));
    const results = await Promise.all(asks.map((a) => a.settled));
    let timeouts = 0;
    results.forEach((r, n) => {
      const ask = asks[n]!;
      if (r.kind === 'error' && r.e instanceof TimeoutError) {
        timeouts++;
        expect(r.at - ask.opened_ms, `ask ${ask.i} timed out early`).to.be.at.least(ask.timeout_ms - 1);
        expect(r.at - ask.opened_ms).to.be.below(ask.timeout_ms + ASK_DEADLINE_TICK_MS + LATE_SLACK_MS);
      }
    });
    expect(timeouts).to.be.greaterThan(50);
    expect(died).to.be.greaterThan(0);
    expect(table.size).to.equal(0);
  });
});
