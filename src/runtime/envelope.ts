/**
 * The unit that travels between threads: a message plus its routing. Kept
 * flat and small because hundreds are packed into every ring frame.
 */

/** What an envelope carries. */
export const enum EnvelopeKind {
  /** A fire-and-forget message to actor `to`. */
  Send = 0,
  /** A request to actor `to`; the answer goes back with the same `ask` id. */
  Ask = 1,
  /** A successful answer to ask `a` of an actor on thread `tt`. */
  Reply = 2,
  /** A failed answer: `m` is an `ErrorRecord`. */
  ReplyError = 3,
}

/** A routed message. Field names are short on purpose: they are encoded per message. */
export interface Envelope {
  /** Kind of envelope. */
  k: EnvelopeKind;
  /** Target actor id on the destination thread ('' for replies). */
  to: string;
  /** Destination thread (logical: a node's actors, see `ActorRef.thread`). */
  tt: number;
  /** Sending thread (logical). */
  ft: number;
  /** Sending actor id ('' when sent from outside any actor). */
  fi: string;
  /** Ask correlation id (0 for plain sends). */
  a: number;
  /** The message, reply value or error record. */
  m: unknown;
  /**
   * Local timer messages only (never on the wire): the incarnation of the
   * actor that scheduled it. A timer that fired before a crash and still
   * waits in the mailbox is dropped, so periodic loops do not multiply.
   */
  inc?: number;
}
