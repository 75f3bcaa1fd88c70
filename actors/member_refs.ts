/**
 * Where a member's membership actors live. A cluster node is one thread (a
 * worker thread, or a simulated node in `src/runtime/sim`): the node on
 * thread `t` is member `n${t}`, and its gossip and failure-detector actors
 * are `{ thread: t, id: 'gossip' }` and `{ thread: t, id: 'fd' }`.
 *
 * The mapping is a convention for now (address = thread); when members get
 * host:port addresses, `MemberEntry.address` carries them and this module
 * becomes the one place that turns an address into refs.
 *
 * Pure; safe to call from any thread.
 */
import { assert } from '../src/core/assert.js';
import { THREADS_MAX } from '../src/core/limits.js';
import type { ActorRef } from '../src/runtime/actor.js';

/** Actor id of a node's gossip actor. */
export const GOSSIP_ACTOR_ID = 'gossip';

/** Actor id of a node's failure-detector actor. */
export const DETECTOR_ACTOR_ID = 'fd';

/** The member id of the node on `thread`: `n${thread}`. */
export function memberId(thread: number): string {
  assert(Number.isInteger(thread) && thread >= 0 && thread < THREADS_MAX, 'a member thread is in [0, THREADS_MAX)');
  return `n${thread}`;
}

/** The thread of member `member_id` (the inverse of `memberId`). */
export function threadOf(member_id: string): number {
  assert(/^n(0|[1-9][0-9]{0,8})$/.test(member_id), `member id "${member_id}" has the form n<thread>`);
  const thread = Number(member_id.slice(1));
  assert(thread < THREADS_MAX, 'a member thread is in [0, THREADS_MAX)');
  return thread;
}

/** The gossip actor of member `member_id`. */
export function gossipRef(member_id: string): ActorRef {
  return { thread: threadOf(member_id), id: GOSSIP_ACTOR_ID };
}

/** The failure-detector actor of member `member_id`. */
export function detectorRef(member_id: string): ActorRef {
  return { thread: threadOf(member_id), id: DETECTOR_ACTOR_ID };
}

/** Actor id of a node's replica (its storage engine). */
export const REPLICA_ACTOR_ID = 'replica';

/** Actor id of a node's coordinator. */
export const COORDINATOR_ACTOR_ID = 'coordinator';

/** Actor id of a node's hinted-handoff actor. */
export const HANDOFF_ACTOR_ID = 'handoff';

/** The replica actor of member `member_id`. */
export function replicaRef(member_id: string): ActorRef {
  return { thread: threadOf(member_id), id: REPLICA_ACTOR_ID };
}

/** The coordinator actor of member `member_id`. */
export function coordinatorRef(member_id: string): ActorRef {
  return { thread: threadOf(member_id), id: COORDINATOR_ACTOR_ID };
}

/** The hinted-handoff actor of member `member_id`. */
export function handoffRef(member_id: string): ActorRef {
  return { thread: threadOf(member_id), id: HANDOFF_ACTOR_ID };
}

/** Actor id of a node's anti-entropy actor. */
export const ANTI_ENTROPY_ACTOR_ID = 'anti-entropy';

/** The anti-entropy actor of member `member_id`. */
export function antiEntropyRef(member_id: string): ActorRef {
  return { thread: threadOf(member_id), id: ANTI_ENTROPY_ACTOR_ID };
}
