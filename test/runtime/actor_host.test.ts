/**
 * What an ask gets when the thread it went to crashes or stops (issue 12:
 * `Error: thread 2 crashed` reached a client as raw text). Asks still queued
 * in a mailbox were never handled: a retryable `UnavailableError` that says
 * nothing was applied. Asks this thread sent whose answer can no longer
 * come: an `IndeterminateError` (the target may have acted on them). Both
 * cross threads as records and come back as the same class.
 *
 * A host runs its actors on microtasks, so a crash called in the same
 * synchronous step as an ask finds the ask still in the mailbox. Several
 * logical threads (nodes) share one host here, as on a worker thread that
 * hosts several nodes: one crashes alone.
 */
import { expect } from 'chai';
import { IndeterminateError, UnavailableError, fromErrorRecord, toErrorRecord } from '../../src/core/errors.js';
import { ActorHost } from '../../src/runtime/actor_host.js';
import type { ActorContext, ActorKinds } from '../../src/runtime/actor.js';
import { actorKinds } from './test_actors.js';

const quiet = (): void => undefined;

async function settled(promise: Promise<unknown>): Promise<unknown> {
  try {
    return { value: await promise };
  } catch (err) {
    return err;
  }
}

/** A host on the main thread that also hosts logical thread 1 (a node), both running. */
function twoThreadHost(): ActorHost {
  const host = new ActorHost(0, [0, 0], actorKinds as ActorKinds, quiet);
  host.startThread(0);
  host.startThread(1);
  return host;
}

describe('runtime/actor_host: crashes reach askers as typed errors', () => {
  it('answers asks queued in a mailbox with a retryable UnavailableError when the thread crashes', async () => {
    const host = twoThreadHost();
    const a = host.spawn({ kind: 'echo', id: 'a' }, 1);
    const queued = host.ask(undefined, a, { type: 'echo', value: 1 }, 5000);
    await host.crashThread(1);
    const err = await settled(queued);
    expect(err).to.be.instanceOf(UnavailableError);
    const message = (err as Error).message;
    expect(message).to.match(/ask to t1\/a \(type=echo\) was not handled: thread 1 crashed/);
    expect(message).to.match(/nothing was applied: retry/);
    // Typed across threads too: the record rebuilds the same class and text.
    const rebuilt = fromErrorRecord(toErrorRecord(err));
    expect(rebuilt).to.be.instanceOf(UnavailableError);
    expect(rebuilt.message).to.equal(message);
  });

  it('answers an ask to an actor that is gone with a retryable UnavailableError, not "invalid request"', async () => {
    const host = twoThreadHost();
    const a = host.spawn({ kind: 'echo', id: 'a' }, 1);
    host.stop(a);
    const err = await settled(host.ask(undefined, a, { type: 'echo', value: 1 }, 5000));
    expect(err).to.be.instanceOf(UnavailableError);
  });

  it('fails the asks still waiting on a crashed thread with IndeterminateError (the target may have acted)', async () => {
    const host = twoThreadHost();
    host.spawn({ kind: 'echo', id: 'a' }, 1);
    // 'silent' is handled and never answered: the ask is in the table, not in a mailbox.
    const waiting = host.ask(undefined, { thread: 1, id: 'a' }, { type: 'silent' }, 5000);
    await new Promise((resolve) => setImmediate(resolve));
    await host.crashThread(1);
    expect(host.failAsksTo(1, 'thread 1 crashed before the answer came')).to.equal(1);
    const err = await settled(waiting);
    expect(err).to.be.instanceOf(IndeterminateError);
    expect((err as Error).message).to.match(/ask to t1\/a \(type=silent\) may or may not have been applied \(thread 1 crashed before the answer came\): read the key before retrying/);
  });
});

describe('runtime/actor_host: one node crashes, the others on its OS thread run on', () => {
  it('drops a crashed node\'s actors, leaves the other node untouched, drops envelopes to it, and restarts it fresh', async () => {
    const host = twoThreadHost();
    const survivor = host.spawn({ kind: 'echo', id: 'a' }, 0);
    const victim = host.spawn({ kind: 'echo', id: 'a' }, 1);
    host.send(undefined, victim, { type: 'add', n: 5 });
    expect((await host.ask<{ total: number }>(undefined, victim, { type: 'get' }, 1000)).total).to.equal(5);
    await host.crashThread(1);
    expect(host.runs(1)).to.equal(false);
    expect(host.runs(0)).to.equal(true);
    expect(await host.ask(undefined, survivor, { type: 'echo', value: 'alive' }, 1000)).to.equal('alive');
    // Envelopes to the crashed node are dropped unanswered, as to a dead host.
    const before = host.stats.downDrops;
    expect(host.send(undefined, victim, { type: 'add', n: 1 })).to.equal(true);
    expect(host.stats.downDrops).to.equal(before + 1);
    host.startThread(1);
    host.spawn({ kind: 'echo', id: 'a' }, 1);
    expect((await host.ask<{ total: number }>(undefined, victim, { type: 'get' }, 1000)).total, 'fresh state').to.equal(0);
  });

  it('forgets a crashed actor\'s asks and makes its context inert: no code of it runs again, it sends nothing', async () => {
    let ctx: ActorContext | undefined;
    const kinds: ActorKinds = { ...(actorKinds as ActorKinds), grab: () => ({ started: (c: ActorContext) => void (ctx = c), receive: () => undefined }) };
    const host = new ActorHost(0, [0, 0], kinds, quiet);
    host.startThread(0);
    host.startThread(1);
    const counter = host.spawn({ kind: 'echo', id: 'counter' }, 0);
    host.spawn({ kind: 'grab', id: 'g' }, 1);
    expect(ctx).to.not.equal(undefined);
    let settledCount = 0;
    const count = (): void => void settledCount++;
    // Pending when the node crashes (never answered, 30 ms deadline): forgotten, so not even its timeout runs.
    ctx!.ask(counter, { type: 'silent' }, 30).then(count, count);
    await new Promise((resolve) => setImmediate(resolve));
    await host.crashThread(1);
    expect(ctx!.send(counter, { type: 'add', n: 1 })).to.equal(true);
    ctx!.ask(counter, { type: 'echo', value: 1 }, 30).then(count, count);
    ctx!.schedule(0, { type: 'tick' });
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(settledCount, 'neither ask settles').to.equal(0);
    expect((await host.ask<{ total: number }>(undefined, counter, { type: 'get' }, 1000)).total, 'the dead actor sent nothing').to.equal(0);
  });
});
