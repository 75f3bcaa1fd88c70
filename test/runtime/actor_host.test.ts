/**
 * What an ask gets when the thread it went to crashes or stops (issue 12:
 * `Error: thread 2 crashed` reached a client as raw text). Asks still queued
 * in a mailbox were never handled: a retryable `UnavailableError` that says
 * nothing was applied. Asks this thread sent whose answer can no longer
 * come: an `IndeterminateError` (the target may have acted on them). Both
 * cross threads as records and come back as the same class.
 *
 * Thread 0's host runs its actors on microtasks, so a crash called in the
 * same synchronous step as an ask finds the ask still in the mailbox.
 */
import { expect } from 'chai';
import { IndeterminateError, UnavailableError, fromErrorRecord, toErrorRecord } from '../../src/core/errors.js';
import { ActorHost } from '../../src/runtime/actor_host.js';
import type { ActorKinds } from '../../src/runtime/actor.js';
import { actorKinds } from './test_actors.js';

const quiet = (): void => undefined;

async function settled(promise: Promise<unknown>): Promise<unknown> {
  try {
    return { value: await promise };
  } catch (err) {
    return err;
  }
}

describe('runtime/actor_host: crashes reach askers as typed errors', () => {
  it('answers asks queued in a mailbox with a retryable UnavailableError when the thread crashes', async () => {
    const host = new ActorHost(0, actorKinds as ActorKinds, quiet);
    const a = host.spawn({ kind: 'echo', id: 'a' });
    const queued = host.ask(undefined, a, { type: 'echo', value: 1 }, 5000);
    await host.crashAll();
    const err = await settled(queued);
    expect(err).to.be.instanceOf(UnavailableError);
    const message = (err as Error).message;
    expect(message).to.match(/ask to t0\/a \(type=echo\) was not handled: thread 0 crashed/);
    expect(message).to.match(/nothing was applied: retry/);
    // Typed across threads too: the record rebuilds the same class and text.
    const rebuilt = fromErrorRecord(toErrorRecord(err));
    expect(rebuilt).to.be.instanceOf(UnavailableError);
    expect(rebuilt.message).to.equal(message);
  });

  it('answers an ask to an actor that is gone with a retryable UnavailableError, not "invalid request"', async () => {
    const host = new ActorHost(0, actorKinds as ActorKinds, quiet);
    const a = host.spawn({ kind: 'echo', id: 'a' });
    host.stop('a');
    const err = await settled(host.ask(undefined, a, { type: 'echo', value: 1 }, 5000));
    expect(err).to.be.instanceOf(UnavailableError);
  });

  it('fails the asks a crashing thread still waits on with IndeterminateError (the target may have acted)', async () => {
    const host = new ActorHost(0, actorKinds as ActorKinds, quiet);
    host.spawn({ kind: 'echo', id: 'a' });
    // 'silent' is handled and never answered: the ask is in the table, not in a mailbox.
    const waiting = host.ask(undefined, { thread: 0, id: 'a' }, { type: 'silent' }, 5000);
    await new Promise((resolve) => setImmediate(resolve));
    await host.crashAll();
    const err = await settled(waiting);
    expect(err).to.be.instanceOf(IndeterminateError);
    expect((err as Error).message).to.match(/ask to t0\/a \(type=silent\) may or may not have been applied \(thread 0 crashed before the answer came\): read the key before retrying/);
  });
});
