/**
 * A thread's side of the inter-thread transport: one outbound SPSC ring to
 * every other thread, one inbound ring from every other thread, and a
 * doorbell word per thread for waking an idle consumer. The threads here are
 * OS threads (0 = main, 1.. = workers); several logical threads (nodes) may
 * share one, and each envelope names its own (`routeOf`): the actor host
 * maps one to the other.
 *
 * Sending: messages go into a per-destination `Outbox` (bounded by
 * OUTBOUND_PENDING_MAX_MESSAGES: a full one makes `send` return false),
 * packed by up to RING_BATCH_MAX_MESSAGES per frame, and flushed at the end
 * of the current synchronous run (a microtask). A full ring leaves the rest
 * queued; the consumer rings our doorbell when it frees space and we flush
 * again.
 *
 * Messages larger than one frame cross as several frames, joined again
 * here, one `Reassembly` per sending thread (fragments.ts says why and how).
 *
 * Receiving: a loop drains every inbound ring (at most
 * INBOUND_DRAIN_MAX_FRAMES per ring per pass, then yields to the event loop),
 * hands each decoded batch to `onBatch` (pausing while the host's mailboxes
 * are near full, so frames wait in the ring and the sender feels it), and when all rings are empty parks
 * on its doorbell with `Atomics.waitAsync`, so an idle thread neither spins
 * nor blocks its event loop (timers and I/O keep running).
 *
 * Doorbell layout (Int32Array over one SharedArrayBuffer, 16 slots a thread
 * so threads do not share cache lines):
 *
 *   slot 16*t + 0 : sequence, bumped by whoever wakes thread t
 *   slot 16*t + 1 : 1 while thread t is parked or about to park
 *
 * The doorbell rings only when it can matter. A producer that wrote frames
 * loads `parked` and does nothing more while it is 0 (the common case under
 * load: no read-modify-write, no notify). When it is 1 the producer takes it
 * (exchange to 0), bumps the sequence and notifies; a second producer, or a
 * second flush, finds 0 and leaves alone a thread that is already waking
 * (on an oversubscribed machine a woken thread may wait milliseconds for a
 * core, and every flush used to notify it again).
 *
 * Why no wake-up is lost (all Atomics are sequentially consistent): the
 * consumer stores parked = 1, then loads the sequence and every inbound
 * ring's write index, and waits on the sequence only if nothing changed.
 * The producer stores its ring's write index, then loads `parked`. Either
 * the consumer's re-check sees the frame, or the producer sees parked = 1
 * and bumps the sequence, which the consumer's wait (which compares the
 * sequence atomically with sleeping) or its re-check sees. The sequence
 * is read before each drain pass, so a bump during a pass also keeps the
 * thread from parking; wake-ups with nothing in a ring to see (the
 * consumer freed space a producer waits for, `stop`) always bump it.
 *
 * Thread contract: a Transport is used only by the thread it was built for.
 */
import { assert } from '../core/assert.js';
import { CorruptionError } from '../core/errors.js';
import { INBOUND_DRAIN_MAX_FRAMES, RING_FRAME_MAX_BYTES } from '../core/limits.js';
import { BatchDecoder, BatchEncoder, routeOf } from './codec.js';
import type { Envelope, EnvelopeKind } from './envelope.js';
import { Reassembly } from './fragments.js';
import { Outbox } from './outbox.js';
import { SpscRing } from './ring.js';

/** Shared memory a thread needs to join the transport (sent once, at setup). */
export interface TransportWiring {
  /** Number of threads, the main thread (0) included. */
  threadCount: number;
  /** Doorbells of all threads. */
  doorbells: SharedArrayBuffer;
  /** rings[src][dst]: the ring from thread src to thread dst (null on the diagonal). */
  rings: (SharedArrayBuffer | null)[][];
}

/** Allocate the doorbells for `threadCount` threads. */
export function allocateDoorbells(threadCount: number): SharedArrayBuffer {
  return new SharedArrayBuffer(threadCount * 16 * 4);
}

/** Callbacks from the transport into the thread's actor host. */
export interface TransportSink {
  /** False while the thread's mailboxes are too full to take another frame. */
  canAccept(): boolean;
  /** A decoded batch arrived from thread `from`. */
  onBatch(from: number, batch: Envelope[]): void;
  /** One drain pass is over: a good moment to dispatch and flush. */
  onDrained(): void;
  /** An envelope could not be sent (too large to frame, or its destination is gone). */
  onUndeliverable(dest: number, envelope: Envelope, reason: Error): void;
  /** A frame failed its checksum; the ring's contents were discarded. */
  onCorruption(err: CorruptionError): void;
}

/** Counters for metrics and benchmarks. */
export interface TransportStats {
  framesOut: number;
  framesIn: number;
  messagesOut: number;
  messagesIn: number;
  ringFullStalls: number;
  /** Doorbells that notified a parked thread (each costs a syscall and a wake-up). */
  wakeupsSent: number;
}

/** This thread's end of every ring. */
export class Transport {
  private readonly inStats = { frames: 0, messages: 0 };
  private wakeupsSent = 0;
  private readonly bells: Int32Array;
  private readonly outbound: (SpscRing | null)[] = [];
  private readonly inbound: (SpscRing | null)[] = [];
  /** Per sending thread, the message being joined from its frames. */
  private readonly reassembly: Reassembly[] = [];
  private readonly outboxes: Outbox[] = [];
  /** Frames written per destination when its doorbell was last rung. */
  private readonly rungAtFrames: number[] = [];
  private readonly encoder = new BatchEncoder();
  private readonly decoder = new BatchDecoder();
  private flushScheduled = false;
  private running = false;
  /**
   * A pending `Atomics.waitAsync` does not keep Node's event loop alive, so a
   * thread whose only work is waiting for frames would exit. This timer holds
   * the loop open while the receive loop runs.
   */
  private keepAlive: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly thread: number,
    wiring: TransportWiring,
    private readonly sink: TransportSink,
  ) {
    assert(thread >= 0 && thread < wiring.threadCount, 'thread index within the wiring');
    this.bells = new Int32Array(wiring.doorbells);
    for (let other = 0; other < wiring.threadCount; other++) {
      const dest = other;
      this.outboxes.push(new Outbox(this.encoder, (env, reason) => this.sink.onUndeliverable(dest, env, reason)));
      this.rungAtFrames.push(0);
      this.outbound.push(null);
      this.inbound.push(null);
      this.reassembly.push(new Reassembly(`ring t${other}->t${thread}`));
      if (other !== thread) this.rewire(other, wiring.rings[thread]?.[other] ?? null, wiring.rings[other]?.[thread] ?? null);
    }
  }

  /** Number of threads in the wiring. */
  get threadCount(): number {
    return this.outboxes.length;
  }

  /** Counters for metrics and benchmarks. */
  get stats(): TransportStats {
    const out = { framesOut: 0, framesIn: this.inStats.frames, messagesOut: 0, messagesIn: this.inStats.messages, ringFullStalls: 0, wakeupsSent: this.wakeupsSent };
    for (const box of this.outboxes) {
      out.framesOut += box.stats.frames;
      out.messagesOut += box.stats.messages;
      out.ringFullStalls += box.stats.stalls;
    }
    return out;
  }

  /**
   * Replace the rings to and from `other` (after `other` was restarted with
   * fresh rings). Envelopes still queued for the old incarnation are
   * reported undeliverable: they were meant for a thread that died.
   */
  rewire(other: number, out: SharedArrayBuffer | null, inn: SharedArrayBuffer | null): void {
    assert(other !== this.thread, 'no ring to self');
    this.outbound[other] = out ? new SpscRing(out, `ring t${this.thread}->t${other}`, RING_FRAME_MAX_BYTES) : null;
    this.inbound[other] = inn ? new SpscRing(inn, `ring t${other}->t${this.thread}`, RING_FRAME_MAX_BYTES) : null;
    this.reassembly[other]!.reset(); // the fragments of a message from the old incarnation never end
    const stale = this.outboxes[other]!.drain();
    for (const env of stale) this.sink.onUndeliverable(other, env, new Error(`thread ${other} restarted`));
  }

  /**
   * Queue `env` for thread `dest`. False when the destination's outbound
   * queue is full (backpressure); the envelope was not taken.
   */
  send(dest: number, env: Envelope): boolean {
    return this.sendParts(dest, env.k, env.a, env.to, env.fi, env.m, routeOf(env.ft, env.tt));
  }

  /**
   * `send` without building an envelope object (the hot path). `route`
   * (`routeOf`) names the sending and destination logical threads; by
   * default they are the worker threads themselves.
   */
  sendParts(dest: number, k: EnvelopeKind, a: number, to: string, fi: string, m: unknown, route = routeOf(this.thread, dest)): boolean {
    assert(dest !== this.thread, 'local messages do not use the transport');
    const box = this.outboxes[dest];
    assert(box !== undefined, `thread ${dest} exists`);
    if (!box.add(k, a, route, to, fi, m, this.outbound[dest] ?? null)) return false;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushTask);
    }
    return true;
  }

  /** Messages queued for `dest` but not yet in its ring. */
  pendingFor(dest: number): number {
    return this.outboxes[dest]?.pending ?? 0;
  }

  /** Write every queued message that fits into its ring, then ring doorbells. */
  flush(): void {
    this.flushScheduled = false;
    for (let dest = 0; dest < this.outboxes.length; dest++) {
      const box = this.outboxes[dest]!;
      if (box.pending > 0) {
        const ring = this.outbound[dest];
        if (!ring) {
          for (const env of box.drain()) this.sink.onUndeliverable(dest, env, new Error(`no ring to thread ${dest}`));
          continue;
        }
        box.flush(ring);
      }
      // Frames may also have gone in while messages were added: ring once for all of them.
      if (box.stats.frames !== this.rungAtFrames[dest]) {
        this.rungAtFrames[dest] = box.stats.frames;
        this.ring(dest);
      }
    }
  }

  /** Start the receive loop. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.keepAlive = setInterval(() => undefined, 1 << 30);
    this.receiveLoop().catch((err: unknown) => {
      // The loop only fails on a bug; crash the thread so supervision sees it.
      setImmediate(() => {
        throw err;
      });
    });
  }

  /** Stop the receive loop (it wakes itself to notice). */
  stop(): void {
    this.running = false;
    clearInterval(this.keepAlive);
    this.wake(this.thread);
  }

  private readonly flushTask = (): void => this.flush();

  /**
   * Frames went into thread `dest`'s ring: wake it only if it is parked, and
   * only if no one else has woken it since (the header says why this is safe).
   */
  private ring(dest: number): void {
    const parkedSlot = dest * 16 + 1;
    if (Atomics.load(this.bells, parkedSlot) === 0) return;
    if (Atomics.exchange(this.bells, parkedSlot, 0) === 0) return;
    Atomics.add(this.bells, dest * 16, 1);
    Atomics.notify(this.bells, dest * 16);
    this.wakeupsSent++;
  }

  /**
   * Wake thread `dest` for something its rings do not show (space freed in a
   * ring it writes, or `stop`): always bump the sequence, notify if parked.
   */
  private wake(dest: number): void {
    Atomics.add(this.bells, dest * 16, 1);
    const parkedSlot = dest * 16 + 1;
    if (Atomics.load(this.bells, parkedSlot) !== 0 && Atomics.exchange(this.bells, parkedSlot, 0) !== 0) {
      Atomics.notify(this.bells, dest * 16);
      this.wakeupsSent++;
    }
  }

  private async receiveLoop(): Promise<void> {
    const seqSlot = this.thread * 16;
    const parkedSlot = seqSlot + 1;
    while (this.running) {
      const seen = Atomics.load(this.bells, seqSlot);
      const more = this.drainPass();
      this.sink.onDrained();
      this.flush();
      if (more) {
        await yieldToEventLoop();
        continue;
      }
      Atomics.store(this.bells, parkedSlot, 1);
      // Re-check after announcing: a producer that wrote before it could see parked = 1 did not ring.
      if (Atomics.load(this.bells, seqSlot) === seen && this.running && !this.inboundPending()) {
        const wait = Atomics.waitAsync(this.bells, seqSlot, seen);
        if (wait.async) await wait.value;
      }
      Atomics.store(this.bells, parkedSlot, 0);
    }
  }

  /** True when some inbound ring holds frames. */
  private inboundPending(): boolean {
    for (const ring of this.inbound) if (ring !== null && ring.usedBytes() > 0) return true;
    return false;
  }

  /** Drain every inbound ring once; true when some ring still has frames. */
  private drainPass(): boolean {
    let more = false;
    for (let src = 0; src < this.inbound.length; src++) {
      const ring = this.inbound[src];
      if (!ring) continue;
      if (this.drainRing(src, ring)) more = true;
      // Whatever ended the drain (empty ring, full mailboxes, corruption), a
      // producer that found the ring full must hear that space was freed.
      if (ring.takeProducerWaiting()) this.wake(src);
    }
    return more;
  }

  /** Drain one ring, up to INBOUND_DRAIN_MAX_FRAMES; true when frames remain for a later pass. */
  private drainRing(src: number, ring: SpscRing): boolean {
    const joining = this.reassembly[src]!;
    for (let frames = 0; frames < INBOUND_DRAIN_MAX_FRAMES; frames++) {
      if (!this.sink.canAccept()) return ring.usedBytes() > 0; // mailboxes near full: frames wait in the ring
      let payload: Uint8Array | undefined | null;
      try {
        payload = ring.read();
        // A frame of a larger message (flags set, or one being joined) goes through reassembly; a whole one does not.
        if (payload !== undefined && (ring.lastFlags !== 0 || joining.active)) payload = joining.accept(payload, ring.lastFlags);
      } catch (err) {
        if (err instanceof CorruptionError) {
          // The ring discarded its frames (or a frame came out of sequence): no message half joined survives it.
          joining.reset();
          this.sink.onCorruption(err);
          return ring.usedBytes() > 0;
        }
        throw err;
      }
      if (payload === undefined) return false;
      if (payload === null) continue; // a fragment: the message is not whole yet
      const batch = this.decoder.decode(payload);
      this.inStats.frames++;
      this.inStats.messages += batch.length;
      this.sink.onBatch(src, batch);
    }
    return ring.usedBytes() > 0;
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
