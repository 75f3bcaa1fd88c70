/**
 * Honest outcomes at the client (issue 12): every write of `putMany` gets
 * its own outcome; a write whose fate is unknown (its ask timed out, its
 * coordinator crashed mid-write) is an `IndeterminateError`, never a plain
 * failure a client would retry blindly; a write the coordinator never
 * handled is a plain failure; reads keep `TimeoutError`. The asker is
 * scripted: it plays the coordinator, and fails an ask the way the runtime
 * does (a `TimeoutError` at the deadline, an error record rebuilt by
 * `fromErrorRecord` when the actor crashed).
 */
import { expect } from 'chai';
import { ClusterClient, type Asker } from '../../src/cluster/cluster_client.js';
import { resolveCluster } from '../../src/cluster/cluster_config.js';
import { fromErrorRecord, IndeterminateError, notHandledError, TimeoutError, toErrorRecord, UnavailableError } from '../../src/core/errors.js';
import type { ActorRef, Message } from '../../src/runtime/actor.js';
import type { BatchOutcome, PutReply, PutRequest } from '../../actors/coordinator.js';

const REQUEST_TIMEOUT_MS = 500;

/** What the scripted coordinator does with one ask. */
type Script = (to: ActorRef, msg: Message, timeout_ms: number) => Promise<unknown>;

function client(script: Script): ClusterClient {
  const cluster = resolveCluster({ nodes: 3, replication: { n: 3 } });
  const ask: Asker = <R>(to: ActorRef, msg: Message, timeout_ms: number) => script(to, msg, timeout_ms) as Promise<R>;
  return new ClusterClient(cluster, ask, () => true, 'test', REQUEST_TIMEOUT_MS);
}

function reply(request: PutRequest): PutReply {
  return {
    context: 'ctx',
    superseded: 'past',
    receipt: { op: 'write', required: '2', acks: [{ node: 'n1', dc: 'dc1', standingInFor: null, counted: true }], failures: [], coordinator: 'n1', version: `n1#0:${request.request_id}`, sync: 'periodic' },
  };
}

/** The runtime's answer to an ask nobody answered in time. */
const timedOut = (msg: Message, timeout_ms: number): Promise<never> => Promise.reject(new TimeoutError(`ask to t1/coordinator (type=${msg.type})`, timeout_ms));

/** The runtime's answer when the actor threw while handling the ask (a crash mid-write): a record outside the taxonomy. */
const crashedMidway = (): Promise<never> => Promise.reject(fromErrorRecord(toErrorRecord(new Error('assertion failed: quorum wait settled twice'))));

const entries = (count: number): { key: string; value: string }[] => Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));

describe('cluster_client: every write its own honest outcome', () => {
  it('a put-batch whose ask times out reports each write as IndeterminateError, naming its key', async () => {
    const stored: string[] = [];
    const c = client((_to, msg, timeout_ms) => {
      // The slow coordinator stored every write (a shared slow flush) but its answer missed the deadline.
      for (const request of (msg as unknown as { requests: PutRequest[] }).requests) stored.push(request.request_id);
      return timedOut(msg, timeout_ms);
    });
    const outcomes = await c.putMany(entries(5));
    expect(stored.length, 'every write was sent').to.equal(5);
    outcomes.forEach((outcome, i) => {
      expect(outcome.ok).to.equal(false);
      const error = (outcome as { error: Error }).error;
      expect(error, `write ${i}`).to.be.instanceOf(IndeterminateError);
      expect(error.message).to.contain(`write of key "k${i}"`);
      expect(error.message).to.match(/may or may not have been applied \(no answer(?: \(its put-batch of \d+ writes\))? within 1500 ms\): read the key before retrying/);
    });
  });

  it('a put-batch whose coordinator crashed mid-batch reports each write as IndeterminateError', async () => {
    const outcomes = await client(crashedMidway).putMany(entries(3));
    for (const outcome of outcomes) {
      expect((outcome as { error: Error }).error).to.be.instanceOf(IndeterminateError);
      expect((outcome as { error: Error }).error.message).to.match(/the coordinator failed while handling it.*assertion failed/);
    }
  });

  it("a put-batch whose coordinator's thread died before answering reports each write as IndeterminateError, naming its key", async () => {
    const died = new IndeterminateError('ask to t1/coordinator (type=put-batch)', 'thread 1 died before answering');
    const outcomes = await client(() => Promise.reject(died)).putMany(entries(3));
    outcomes.forEach((outcome, i) => {
      const error = (outcome as { error: Error }).error;
      expect(error).to.be.instanceOf(IndeterminateError);
      expect(error.message).to.match(new RegExp(`^write of key "k${i}" .* may or may not have been applied \\(thread 1 died before answering \\(its put-batch of \\d writes\\)\\)`));
    });
    // A read whose coordinator died is retryable, never indeterminate.
    expect(await client(() => Promise.reject(died)).get('k').then(() => null, (err: unknown) => err)).to.be.instanceOf(UnavailableError);
  });

  it('a put-batch the coordinator never handled fails each write with a retryable UnavailableError (nothing applied)', async () => {
    const outcomes = await client(() => Promise.reject(notHandledError('ask to t1/coordinator (type=put-batch)', 'thread 1 crashed'))).putMany(entries(3));
    for (const outcome of outcomes) expect((outcome as { error: Error }).error).to.be.instanceOf(UnavailableError);
  });

  it('keeps each write its own outcome inside one answered batch: ok, indeterminate (a coordinator timeout), failed', async () => {
    const threads = new Set<number>();
    const c = client(async (to, msg) => {
      threads.add(to.thread);
      const requests = (msg as unknown as { requests: PutRequest[] }).requests;
      for (const request of requests) expect(c.route(request.key).thread, 'each batch goes to its writes\' coordinator').to.equal(to.thread);
      return requests.map((request): BatchOutcome => {
        const j = Number(new TextDecoder().decode(request.key).slice(1));
        if (j % 3 === 0) return { ok: reply(request) };
        if (j % 3 === 1) return { error: toErrorRecord(new TimeoutError('write (w=2)', REQUEST_TIMEOUT_MS)) };
        return { error: toErrorRecord(new UnavailableError(1, 2, 'n2 down')) };
      });
    });
    const outcomes = await c.putMany(entries(6));
    expect(threads.size, 'one batch per coordinator, not one for all').to.be.greaterThan(1);
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.error.constructor.name))).to.deep.equal([
      'ok', 'IndeterminateError', 'UnavailableError', 'ok', 'IndeterminateError', 'UnavailableError',
    ]);
    const first = outcomes[0] as { ok: true; result: { superseded: string; receipt: { sync: string } } };
    expect(first.result.superseded, 'WriteResult.superseded from PutReply').to.equal('past');
    expect(first.result.receipt.sync, 'Receipt.sync from the coordinator').to.equal('periodic');
  });

  it('a single put whose ask times out is IndeterminateError; a read that times out stays TimeoutError', async () => {
    const c = client((_to, msg, timeout_ms) => timedOut(msg, timeout_ms));
    const put = await c.put('k', 'v').then(() => null, (err: unknown) => err);
    expect(put).to.be.instanceOf(IndeterminateError);
    expect((put as Error).message).to.match(/^write of key "k" \(request test:1, coordinator n\d\) may or may not have been applied/);
    const del = await c.put('k', null).then(() => null, (err: unknown) => err);
    expect((del as Error).message).to.match(/^delete of key "k"/);
    const get = await c.get('k').then(() => null, (err: unknown) => err);
    expect(get).to.be.instanceOf(TimeoutError);
  });

  it('a read whose coordinator crashed mid-read is a retryable UnavailableError, never a raw Error', async () => {
    const get = await client(crashedMidway).get('k').then(() => null, (err: unknown) => err);
    expect(get).to.be.instanceOf(UnavailableError);
    expect((get as Error).message).to.match(/read of key "k".*retry the read$/);
  });

  it('puts and gets issued in one turn travel as one batch per coordinator, each answered on its own', async () => {
    const sent: { type: string; count: number }[] = [];
    const c = client(async (to, msg) => {
      const m = msg as unknown as { type: string; requests: { request_id: string; key: Uint8Array }[] };
      sent.push({ type: m.type, count: m.requests.length });
      if (m.type === 'put-batch') return m.requests.map((r): BatchOutcome => ({ ok: reply(r as PutRequest) }));
      return m.requests.map((r) => ({
        ok: { values: [r.key], versions: ['n1#0:1'], timestamps: [0], context: '', receipt: { op: 'read', required: '2', acks: [], failures: [], coordinator: `n${to.thread}` } },
      }));
    });
    const puts = Array.from({ length: 30 }, (_, i) => c.put(`k${i}`, 'v'));
    const gets = Array.from({ length: 30 }, (_, i) => c.get(`k${i}`));
    const written = await Promise.all(puts);
    const read = await Promise.all(gets);
    expect(written.map((w) => w.receipt.version)).to.have.length(30);
    expect(new Set(written.map((w) => w.receipt.version)).size, 'each write its own answer').to.equal(30);
    expect(read.map((r) => Buffer.from(r.values[0]!).toString())).to.deep.equal(Array.from({ length: 30 }, (_, i) => `k${i}`));
    expect(sent.every((s) => s.type === 'put-batch' || s.type === 'get-batch')).to.equal(true);
    expect(sent.filter((s) => s.type === 'put-batch').length, 'one put-batch per coordinator (3 nodes)').to.be.at.most(3);
    expect(sent.filter((s) => s.type === 'get-batch').length, 'one get-batch per coordinator').to.be.at.most(3);
  });
});
