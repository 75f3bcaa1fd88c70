/**
 * Actors for the large-message runtime test (loaded by worker threads by
 * file URL): a sender that sends a planned run of messages of given sizes to
 * a peer in one synchronous turn, and a recorder that checks every payload
 * and keeps the order it saw them in.
 */
import type { Actor, ActorContext, ActorKinds, ActorRef } from '../../src/runtime/actor.js';

/** Messages of the large-message actors. */
export type LargeMsg =
  | { type: 'blast'; to: ActorRef; sizes: number[] }
  | { type: 'item'; seq: number; bytes: Uint8Array }
  | { type: 'seen' }
  | { type: 'make'; seq: number; size: number };

/** What the recorder saw of one item. */
export interface Seen {
  seq: number;
  size: number;
  /** Every byte was what `payload(seq, size)` makes. */
  intact: boolean;
}

/** The bytes of item `seq`: a pattern that a shifted or spliced fragment would break. */
export function payload(seq: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seq * 7 + (i >>> 16)) & 0xff;
  return out;
}

function intact(seq: number, bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== ((i * 31 + seq * 7 + (i >>> 16)) & 0xff)) return false;
  return true;
}

class LargeActor implements Actor<LargeMsg> {
  private readonly seen: Seen[] = [];

  receive(msg: LargeMsg, ctx: ActorContext<LargeMsg>): void {
    switch (msg.type) {
      case 'blast': {
        // All in one turn: the small and large messages share the outbox towards the peer's thread.
        let accepted = 0;
        msg.sizes.forEach((size, seq) => {
          if (ctx.send(msg.to, { type: 'item', seq, bytes: payload(seq, size) })) accepted++;
        });
        ctx.reply(accepted);
        return;
      }
      case 'item':
        this.seen.push({ seq: msg.seq, size: msg.bytes.length, intact: intact(msg.seq, msg.bytes) });
        return;
      case 'seen':
        ctx.reply(this.seen);
        return;
      case 'make':
        ctx.reply(payload(msg.seq, msg.size));
        return;
    }
  }
}

export const actorKinds: ActorKinds = {
  large: () => new LargeActor(),
};
