/**
 * The simulator's event trace: every event the world carries out (a message
 * delivered, a timer fired, a message dropped or duplicated, a node crashed or
 * restarted...) is appended here, in order. The trace keeps
 *
 * - a running hash over the whole sequence (each event's stable text is
 *   hashed with xxh64 seeded by the hash so far), so two runs can be compared
 *   in O(1) memory: same seed ⇒ same `hash()`;
 * - per-kind counts;
 * - the last `tailMax` events (bounded, SIM_TRACE_TAIL_EVENTS), to print when
 *   a test fails.
 *
 * Thread contract: used by the one thread that runs the simulation.
 */
import { assert } from '../../core/assert.js';
import { hash64 } from '../../core/hash.js';
import { SIM_TRACE_TAIL_EVENTS } from '../../core/limits.js';
import { hex64 } from './stable_hash.js';

/** What happened. */
export type TraceKind =
  /** A message was handed to an actor's `receive`. */
  | 'deliver'
  /** An `ask` reply reached the asker. */
  | 'reply'
  /** A scheduled timer fired into its actor. */
  | 'timer'
  /** An `ask` got no reply in time. */
  | 'timeout'
  /** The network dropped a message (drop fault). */
  | 'drop'
  /** A partition blocked a message. */
  | 'partition'
  /** The network scheduled a second copy of a message. */
  | 'duplicate'
  /** The network gave a message extra delay to reorder it. */
  | 'reorder'
  /** A message reached a down node, a stopped actor or an unknown actor. */
  | 'dead'
  /** An actor was spawned. */
  | 'spawn'
  /** A node crashed: its actors lost their state. */
  | 'crash'
  /** A node restarted: its actors were re-created. */
  | 'restart'
  /** A node's event loop froze (until the time in `type`). */
  | 'stall'
  /** A stalled node runs again (its held events follow). */
  | 'unstall'
  /** An actor failed (throw or rejection) and was restarted by supervision. */
  | 'supervise'
  /** An actor failed too often and was stopped for good. */
  | 'stop'
  /** Partitions were set or healed. */
  | 'net';

/** One trace entry. */
export interface TraceEvent {
  /** Position in the whole trace, from 0. */
  readonly index: number;
  /** Virtual time (ms) at which it happened. */
  readonly time_ms: number;
  readonly kind: TraceKind;
  /** Sending actor or node, as "t2/replica" or "t2"; empty if none. */
  readonly from: string;
  /** Receiving actor or node; empty if none. */
  readonly to: string;
  /** The message's `type`, or a short description for non-message events. */
  readonly type: string;
  /** Stable hash of the message content (16 hex digits), or empty. */
  readonly hash: string;
}

/** The fields a caller gives for a new event; `index` is assigned by the trace. */
export type TraceInput = Omit<TraceEvent, 'index'>;

/** An append-only event trace with a running hash and a bounded tail. */
export class Trace {
  /** Running xxh64 over every event so far. */
  private running = 0n;
  /** Events recorded so far. */
  private total = 0;
  /** The most recent events, oldest first once it has wrapped. */
  private readonly tail: TraceEvent[] = [];
  /** Where the next event goes in `tail` once it is full. */
  private tailNext = 0;
  /** Events recorded per kind. */
  private readonly kinds = new Map<TraceKind, number>();
  private readonly encoder = new TextEncoder();

  constructor(readonly tailMax: number = SIM_TRACE_TAIL_EVENTS) {
    assert(Number.isInteger(tailMax) && tailMax >= 0, 'trace tail size is a non-negative integer');
  }

  /** Append one event. */
  record(input: TraceInput): TraceEvent {
    const event: TraceEvent = { index: this.total, ...input };
    this.running = hash64(this.encoder.encode(eventText(event)), this.running);
    this.total++;
    this.kinds.set(event.kind, (this.kinds.get(event.kind) ?? 0) + 1);
    if (this.tailMax > 0) {
      if (this.tail.length < this.tailMax) this.tail.push(event);
      else {
        this.tail[this.tailNext] = event;
        this.tailNext = (this.tailNext + 1) % this.tailMax;
      }
    }
    return event;
  }

  /** Hash of the whole sequence so far, as 16 hex digits. */
  hash(): string {
    return hex64(this.running);
  }

  /** Number of events recorded. */
  get length(): number {
    return this.total;
  }

  /** How many events of `kind` were recorded. */
  count(kind: TraceKind): number {
    return this.kinds.get(kind) ?? 0;
  }

  /** The kept tail, oldest first (at most `tailMax` events). */
  recent(): TraceEvent[] {
    return [...this.tail.slice(this.tailNext), ...this.tail.slice(0, this.tailNext)];
  }

  /** The last `n` kept events as text lines, for printing on failure. */
  format(n = 50): string {
    return this.recent()
      .slice(-n)
      .map((e) => eventText(e))
      .join('\n');
  }
}

/** The stable one-line form of an event; this is what the hash covers. */
export function eventText(e: TraceEvent): string {
  return `#${e.index} @${e.time_ms} ${e.kind} ${e.from || '-'} -> ${e.to || '-'} ${e.type || '-'} ${e.hash || '-'}`;
}
