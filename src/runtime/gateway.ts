/**
 * The main thread as the gateway to node threads hosted by other processes
 * (issue 16). Workers place a remote node thread on the main thread; the
 * main thread's host hands every envelope for it, replies included, to the
 * process link (`peer_link.ts`), and `ActorSystem.fromPeer` brings a peer's
 * envelopes in. Only node threads cross processes: thread 0 is each
 * process's own, so the main thread itself is refused a remote node.
 *
 * Thread contract: the main thread's.
 */
import { InvalidRequestError } from '../core/errors.js';
import { refName, type ActorRef } from './actor.js';
import type { Envelope } from './envelope.js';

/** Logical threads hosted by other processes, and the way to them (`ActorSystemOptions.remote`). */
export interface RemoteThreads {
  threads: readonly number[];
  /** Hand `env` to the process hosting `env.tt`; false when its link is full. */
  forward(env: Envelope): boolean;
}

/** What the main thread's host asks of the gateway. */
export interface Gateway {
  isRemote(thread: number): boolean;
  forward(env: Envelope): boolean;
}

/**
 * Forward `env` if its thread is remote: true when it left (or was lost on
 * a full link, as a lost packet would be: the asker's deadline answers, and
 * `lost` counts it), false when it is for this process.
 */
export function forwardedAway(gateway: Gateway | undefined, env: Envelope, lost: () => void): boolean {
  if (gateway === undefined || !gateway.isRemote(env.tt)) return false;
  if (!gateway.forward(env)) lost();
  return true;
}

/** The main thread sent to a node of another process: not routable, since thread 0 is each process's own. */
export function remoteFromMain(to: ActorRef): InvalidRequestError {
  return new InvalidRequestError(`${refName(to)} is hosted by another process: ask a node of this process, whose actors reach it`);
}
