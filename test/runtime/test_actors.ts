/**
 * Actors used by the runtime tests, loaded by worker threads by file URL.
 * Each exercises one runtime behaviour: replies, state, crashes, forwarding.
 */
import { appendFileSync } from 'node:fs';
import type { Actor, ActorContext, ActorKinds, ActorRef } from '../../src/runtime/actor.js';

/** Messages understood by the test actors. */
export type TestMsg =
  | { type: 'echo'; value: unknown }
  | { type: 'add'; n: number }
  | { type: 'get' }
  | { type: 'boom' }
  | { type: 'exit-thread'; code: number }
  | { type: 'throw-uncaught' }
  | { type: 'silent' }
  | { type: 'reject-async' }
  | { type: 'forward'; to: ActorRef; value: unknown }
  | { type: 'block'; ms: number }
  | { type: 'tick' }
  | { type: 'store'; key: string; bytes: Uint8Array }
  | { type: 'load'; key: string }
  | { type: 'start-ticking'; every_ms: number }
  | { type: 'mark-on-exit'; path: string };

/** Replies with what it was sent; keeps a counter it can be asked for. */
class EchoActor implements Actor<TestMsg> {
  private total = 0;
  private ticks = 0;
  private readonly stored = new Map<string, Uint8Array>();
  /** File that `stopped()` and `crashed()` append their names to, when set. */
  private markPath: string | undefined;

  stopped(): void {
    if (this.markPath !== undefined) appendFileSync(this.markPath, 'stopped\n');
  }

  crashed(): void {
    if (this.markPath !== undefined) appendFileSync(this.markPath, 'crashed\n');
  }

  receive(msg: TestMsg, ctx: ActorContext<TestMsg>): void | Promise<void> {
    switch (msg.type) {
      case 'echo':
        ctx.reply(msg.value);
        return;
      case 'add':
        this.total += msg.n;
        return;
      case 'get':
        ctx.reply({ total: this.total, ticks: this.ticks });
        return;
      case 'boom':
        throw new Error('boom requested');
      case 'exit-thread':
        process.exit(msg.code);
        return;
      case 'throw-uncaught':
        // Escapes the actor context on purpose: kills the whole thread.
        setTimeout(() => {
          throw new Error('uncaught in worker');
        }, 0);
        return;
      case 'silent':
        return;
      case 'reject-async':
        return Promise.reject(new Error('async handler failed'));
      case 'forward':
        return this.forward(msg.to, msg.value, ctx);
      case 'block': {
        const until = Date.now() + msg.ms;
        while (Date.now() < until) {
          /* busy: simulate a stalled thread */
        }
        ctx.reply('unblocked');
        return;
      }
      case 'tick':
        this.ticks++;
        return;
      case 'store':
        this.stored.set(msg.key, msg.bytes);
        return;
      case 'load':
        ctx.reply(this.stored.get(msg.key) ?? null);
        return;
      case 'mark-on-exit':
        this.markPath = msg.path;
        ctx.reply('ok');
        return;
      case 'start-ticking':
        for (let i = 1; i <= 3; i++) ctx.schedule(msg.every_ms * i, { type: 'tick' });
        ctx.reply('ok');
        return;
    }
  }

  private async forward(to: ActorRef, value: unknown, ctx: ActorContext<TestMsg>): Promise<void> {
    const replier = ctx.replier();
    try {
      const answer = await ctx.ask(to, { type: 'echo', value });
      replier?.ok({ via: ctx.self, answer });
    } catch (err) {
      replier?.fail(err);
    }
  }
}

export const actorKinds: ActorKinds = {
  echo: () => new EchoActor(),
};
