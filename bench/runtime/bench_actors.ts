/**
 * Actors for the ask round-trip benchmark: a pinger that asks a ponger on
 * another thread, one ask at a time (low load), and records each round trip.
 */
import type { Actor, ActorContext, ActorKinds, ActorRef } from '../../src/runtime/actor.js';

type PingMsg = { type: 'ping'; seq: number } | { type: 'run'; target: ActorRef; count: number } | { type: 'count' };

class Ponger implements Actor<PingMsg> {
  private seen = 0;
  receive(msg: PingMsg, ctx: ActorContext<PingMsg>): void {
    if (msg.type === 'ping') ctx.reply(msg.seq);
    else if (msg.type === 'count') ctx.reply(this.seen);
    this.seen++;
  }
}

class Pinger implements Actor<PingMsg> {
  receive(msg: PingMsg, ctx: ActorContext<PingMsg>): void | Promise<void> {
    if (msg.type === 'run') return this.run(msg.target, msg.count, ctx);
  }

  private async run(target: ActorRef, count: number, ctx: ActorContext<PingMsg>): Promise<void> {
    const replier = ctx.replier();
    const rtt_us: number[] = [];
    for (let seq = 0; seq < count; seq++) {
      const t0 = performance.now();
      const echoed = await ctx.ask<number>(target, { type: 'ping', seq }, 5000);
      rtt_us.push((performance.now() - t0) * 1000);
      if (echoed !== seq) throw new Error(`ponger echoed ${echoed} for ${seq}`);
    }
    replier?.ok(rtt_us);
  }
}

export const actorKinds: ActorKinds = {
  pinger: () => new Pinger(),
  ponger: () => new Ponger(),
};
