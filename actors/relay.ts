/**
 * A node's relay: asks another actor on this process's behalf and hands the
 * answer back (issue 16). The main thread cannot ask an actor hosted by
 * another process itself: replies find their way by logical thread, and
 * thread 0 is each process's own, so the answer would go to the other
 * process's main thread. A node thread's number is the same in every
 * process, so the main thread asks its own node's relay, the relay asks the
 * remote actor, and the answer comes back the way it went. Used for the
 * cluster's admin questions (status, explain, repair) about nodes of other
 * processes, never on the request path.
 *
 * Thread contract: one instance per node thread, touched only by it.
 */
import type { Actor, ActorContext, ActorRef, Message } from '../src/runtime/actor.js';

/** Actor id of a node's relay. */
export const RELAY_ACTOR_ID = 'relay';

/** Ask `to` with `msg`; the reply is its answer, or the error it failed with. */
export interface RelayAsk extends Message {
  type: 'relay';
  to: ActorRef;
  msg: Message;
  timeout_ms: number;
}

function relay(): Actor<RelayAsk> {
  return {
    receive(msg: RelayAsk, ctx: ActorContext<RelayAsk>): void {
      const replier = ctx.replier();
      if (replier === undefined) return; // a relay sent, not asked, has no one to answer
      ctx.ask(msg.to, msg.msg, msg.timeout_ms).then(
        (answer) => replier.ok(answer),
        (err: unknown) => replier.fail(err),
      );
    },
  };
}

export const actorKinds = {
  relay: () => relay(),
};
