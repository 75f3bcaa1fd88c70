/**
 * Actors for the partition tests, loaded by worker threads by file URL. A
 * peer counts what it is sent and relays sends and asks to other peers, so a
 * test can make one worker thread talk to another and see what arrived.
 */
import { assertNever } from '../../src/core/assert.js';
import type { Actor, ActorContext, ActorKinds, ActorRef } from '../../src/runtime/actor.js';

/** What a relayed ask came back with: the answer, or the error's class name. */
export type RelayOutcome = { ok: unknown } | { error: string };

/** Messages understood by a peer. */
export type PeerMsg =
  | { type: 'echo'; value: unknown }
  | { type: 'add'; n: number }
  | { type: 'total' }
  | { type: 'relay-send'; to: ActorRef; n: number; times: number }
  | { type: 'relay-ask'; to: ActorRef; value: unknown; timeout_ms: number }
  | { type: 'exit-thread' };

/** Echoes, counts `add`s, and relays sends and asks to other peers. */
class PeerActor implements Actor<PeerMsg> {
  /** Sum of every `add` received. */
  private total = 0;

  receive(msg: PeerMsg, ctx: ActorContext<PeerMsg>): void | Promise<void> {
    switch (msg.type) {
      case 'echo':
        ctx.reply(msg.value);
        return;
      case 'add':
        this.total += msg.n;
        return;
      case 'total':
        ctx.reply(this.total);
        return;
      case 'relay-send': {
        // Answers how many of the sends the runtime reported accepted.
        let accepted = 0;
        for (let i = 0; i < msg.times; i++) if (ctx.send(msg.to, { type: 'add', n: msg.n })) accepted++;
        ctx.reply(accepted);
        return;
      }
      case 'relay-ask':
        return this.relayAsk(msg.to, msg.value, msg.timeout_ms, ctx);
      case 'exit-thread':
        process.exit(1);
        return;
      default:
        assertNever(msg);
    }
  }

  private async relayAsk(to: ActorRef, value: unknown, timeout_ms: number, ctx: ActorContext<PeerMsg>): Promise<void> {
    const replier = ctx.replier();
    let outcome: RelayOutcome;
    try {
      outcome = { ok: await ctx.ask(to, { type: 'echo', value }, timeout_ms) };
    } catch (err) {
      outcome = { error: err instanceof Error ? err.name : String(err) };
    }
    replier?.ok(outcome);
  }
}

export const actorKinds: ActorKinds = {
  peer: () => new PeerActor(),
};
