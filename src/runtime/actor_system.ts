/**
 * The actor system as the main thread sees it: thread 0 hosts main-thread
 * actors and the embedding API; threads 1..n are worker threads, each hosting
 * many actors. The system allocates the shared memory (a ring per directed
 * thread pair, a doorbell per thread), starts the workers, and supervises
 * them: a worker that dies is reported as that thread's crash (a node crash)
 * and can be restarted with fresh rings and the same actors. Worker threads
 * can be partitioned from each other (`partition`, `partitionOneWay`,
 * `heal`); see partition.ts.
 *
 * Thread contract: an ActorSystem is created and used on the main thread only.
 */
import { Worker } from 'node:worker_threads';
import { assert } from '../core/assert.js';
import { InvalidRequestError } from '../core/errors.js';
import { ASK_DEFAULT_TIMEOUT_MS, CRASH_EXIT_MS, RING_CAPACITY_BYTES, SHUTDOWN_GRACE_MS, THREADS_MAX } from '../core/limits.js';
import type { ActorKinds, ActorRef, Message, SpawnSpec } from './actor.js';
import { ActorHost, type HostStats } from './actor_host.js';
import { defaultSink, type LogSink } from './logger.js';
import { PartitionLinks, type BlockLists } from './partition.js';
import { allocateRing } from './ring.js';
import type { ControlMsg, ControlReply, WorkerSetup } from './setup_messages.js';
import { allocateDoorbells, Transport, type TransportWiring } from './transport.js';

/** How to start an actor system. */
export interface ActorSystemOptions {
  /** Worker threads to start (threads 1..workers). */
  workers: number;
  /** File URLs of modules exporting `actorKinds`, loaded by every worker. */
  modules: string[];
  /** Actor kinds that may be spawned on the main thread. */
  mainKinds?: ActorKinds;
  /** Actors each worker spawns at start, by thread index. */
  spawn?: Record<number, SpawnSpec[]>;
  /** Data bytes per ring (power of two); default RING_CAPACITY_BYTES. */
  ringCapacityBytes?: number;
  /** How long `terminateThread` waits for a thread to crash itself; default CRASH_EXIT_MS. */
  crashExitMs?: number;
  /** Where main-thread logs go. */
  sink?: LogSink;
}

/** A worker thread died. */
export interface ThreadCrash {
  thread: number;
  error: Error;
}

const WORKER_URL = new URL('./worker_main.js', import.meta.url);

/** A running actor system. */
export class ActorSystem {
  /** Host of the main thread's actors (thread 0). */
  readonly host: ActorHost;
  private readonly transport: Transport;
  private readonly wiring: TransportWiring;
  private readonly workers: (Worker | null)[] = [];
  private readonly specs: SpawnSpec[][] = [];
  private readonly crashListeners: ((crash: ThreadCrash) => void)[] = [];
  /** Blocked links between worker threads; re-sent to a thread when it restarts. */
  private readonly links: PartitionLinks;
  private readonly waiting = new Map<number, { thread: number; resolve(reply: ControlReply): void; reject(err: Error): void }>();
  private nextToken = 1;
  private shuttingDown = false;

  /** Threads being killed by `terminateThread`: their exit is reported as a crash but logged as intended. */
  private readonly terminating = new Set<number>();

  private constructor(private readonly options: ActorSystemOptions) {
    const threadCount = options.workers + 1;
    assert(options.workers >= 1 && threadCount <= THREADS_MAX, `1..${THREADS_MAX - 1} worker threads`);
    const capacity = options.ringCapacityBytes ?? RING_CAPACITY_BYTES;
    const rings: (SharedArrayBuffer | null)[][] = [];
    for (let src = 0; src < threadCount; src++) {
      rings.push([]);
      for (let dst = 0; dst < threadCount; dst++) rings[src]!.push(src === dst ? null : allocateRing(capacity));
    }
    this.wiring = { threadCount, doorbells: allocateDoorbells(threadCount), rings };
    this.links = new PartitionLinks(threadCount);
    this.host = new ActorHost(0, options.mainKinds ?? {}, options.sink ?? defaultSink());
    this.transport = new Transport(0, this.wiring, this.host);
    this.host.attach(this.transport);
    for (let t = 0; t < threadCount; t++) {
      this.workers.push(null);
      this.specs.push([...(options.spawn?.[t] ?? [])]);
    }
  }

  /** Start the main-thread transport and every worker; resolves when all are ready. */
  static async start(options: ActorSystemOptions): Promise<ActorSystem> {
    const system = new ActorSystem(options);
    system.transport.start();
    await Promise.all(Array.from({ length: options.workers }, (_, i) => system.startWorker(i + 1)));
    return system;
  }

  /** Number of threads, main included. */
  get threadCount(): number {
    return this.wiring.threadCount;
  }

  /** Transport counters of the main thread. */
  get transportStats(): Transport['stats'] {
    return this.transport.stats;
  }

  /** Be told when a worker thread dies. */
  onCrash(listener: (crash: ThreadCrash) => void): void {
    this.crashListeners.push(listener);
  }

  /** True while thread `thread` runs (the main thread always does). */
  isAlive(thread: number): boolean {
    return thread === 0 || this.workers[thread] !== null;
  }

  /** Spawn an actor on `thread`; it is re-spawned if that thread restarts. */
  async spawn(thread: number, spec: SpawnSpec): Promise<ActorRef> {
    if (thread === 0) return this.host.spawn(spec);
    await this.control(thread, { type: 'spawn', token: 0, spec });
    this.specs[thread]!.push(spec);
    return { thread, id: spec.id };
  }

  /** Send a message from outside any actor. False on backpressure. */
  send(to: ActorRef, msg: Message): boolean {
    return this.host.send(undefined, to, msg);
  }

  /** Ask from outside any actor. */
  ask<R = unknown>(to: ActorRef, msg: Message, timeout_ms = ASK_DEFAULT_TIMEOUT_MS): Promise<R> {
    return this.host.ask<R>(undefined, to, msg, timeout_ms);
  }

  /**
   * Restart a dead worker thread: fresh rings to and from it (whatever was in
   * flight to the dead thread is gone, as with any crash), then a new worker
   * that spawns the same actors with fresh state.
   */
  async restartThread(thread: number): Promise<void> {
    assert(thread > 0 && thread < this.threadCount, 'restart a worker thread');
    if (this.workers[thread] !== null) throw new InvalidRequestError(`thread ${thread} is running; only a dead thread restarts`);
    const capacity = this.options.ringCapacityBytes ?? RING_CAPACITY_BYTES;
    const rings = this.wiring.rings;
    for (let other = 0; other < this.threadCount; other++) {
      if (other === thread) continue;
      rings[thread]![other] = allocateRing(capacity);
      rings[other]![thread] = allocateRing(capacity);
    }
    this.transport.rewire(thread, rings[0]![thread]!, rings[thread]![0]!);
    const rewires: Promise<ControlReply>[] = [];
    for (let other = 1; other < this.threadCount; other++) {
      if (other === thread || this.workers[other] === null) continue;
      rewires.push(this.control(other, { type: 'rewire', token: 0, other: thread, out: rings[other]![thread]!, inn: rings[thread]![other]! }));
    }
    await Promise.all(rewires);
    await this.startWorker(thread);
  }

  /**
   * Kill worker thread `thread` abruptly, as a crash: its actors get no
   * `stopped`, nothing is flushed, and crash listeners hear of it. Actors
   * only release native handles (`Actor.crashed`). Used by fault tests and
   * the demo; `restartThread` brings it back.
   */
  async terminateThread(thread: number): Promise<void> {
    const worker = this.workers[thread];
    if (!worker) throw new InvalidRequestError(`thread ${thread} is not running`);
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    this.terminating.add(thread);
    // The thread crashes itself at a safe point (see worker_main's `crash`); one that cannot answer (stalled,
    // or stuck in a loop) is terminated from outside after CRASH_EXIT_MS.
    const crash: ControlMsg = { type: 'crash', token: 0 };
    worker.postMessage(crash);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), this.options.crashExitMs ?? CRASH_EXIT_MS)));
    if ((await Promise.race([exited, late])) === 'late') await worker.terminate();
    clearTimeout(timer);
    await exited;
  }

  /**
   * Cut every link between threads of different groups, both ways, in
   * addition to any blocks already in force. Threads in no group, and thread
   * 0, stay connected to everyone (a thread in no group can act as a bridge).
   * Resolves when every running worker enforces it.
   */
  async partition(groups: number[][]): Promise<void> {
    this.links.blockBetween(groups);
    await this.applyBlocks();
  }

  /** Drop messages from threads `from` to threads `to` only (in addition to blocks in force); `to` still reaches `from`. */
  async partitionOneWay(from: number[], to: number[]): Promise<void> {
    this.links.block(from, to);
    await this.applyBlocks();
  }

  /** Remove every partition. */
  async heal(): Promise<void> {
    this.links.clear();
    await this.applyBlocks();
  }

  /** The peers thread `thread` drops messages to and from, ascending (empty for thread 0). */
  blockedPeers(thread: number): BlockLists {
    return this.links.listsFor(thread);
  }

  /** Host counters of thread `thread` (fetched from the worker). */
  async hostStats(thread: number): Promise<HostStats> {
    if (thread === 0) return { ...this.host.stats };
    const reply = await this.control(thread, { type: 'stats', token: 0 });
    assert(reply.type === 'stats', 'a stats request is answered with stats');
    return reply.stats;
  }

  /** Stop every worker and the main-thread actors. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    // Graceful first: every actor's `stopped()` runs (engines sync and close their files, LMDB closes), and
    // the thread exits once that work is done; a thread still busy after SHUTDOWN_GRACE_MS is terminated.
    const exits = this.workers.map(async (worker, thread) => {
      if (!worker) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      await this.control(thread, { type: 'shutdown', token: 0 }).catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), SHUTDOWN_GRACE_MS)));
      const late = (await Promise.race([exited, grace])) === 'late';
      clearTimeout(timer);
      if (late) await worker.terminate();
    });
    await Promise.all(exits);
    this.host.shutdown();
    this.transport.stop();
  }

  private startWorker(thread: number): Promise<void> {
    const setup: WorkerSetup = {
      thread,
      wiring: this.wiring,
      modules: this.options.modules,
      spawn: this.specs[thread]!,
      blocked: this.links.listsFor(thread),
    };
    const worker = new Worker(WORKER_URL, { workerData: setup });
    this.workers[thread] = worker;
    let failure: Error | undefined;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (msg: ControlReply) => {
        if (msg.type === 'ready') {
          ready = true;
          resolve();
        } else this.settle(msg);
      });
      worker.on('error', (err) => {
        failure = err;
      });
      worker.on('exit', (code) => {
        if (this.workers[thread] === worker) this.workers[thread] = null;
        // Setup requests to this worker will never be answered now.
        for (const [token, waiter] of this.waiting) {
          if (waiter.thread !== thread) continue;
          this.waiting.delete(token);
          waiter.reject(new InvalidRequestError(`thread ${thread} exited before answering a setup request`));
        }
        if (this.shuttingDown) return;
        const error = failure ?? new Error(`worker thread ${thread} exited with code ${code}`);
        if (!ready) {
          reject(error);
          return;
        }
        if (this.terminating.delete(thread)) this.host.log.info('worker thread terminated on request', { thread });
        else this.host.log.error('worker thread crashed', { thread, error: error.message });
        // Main-thread asks to it (clients' requests) learn of the crash now, typed, instead of at their deadline.
        this.host.failAsksTo(thread, `thread ${thread} died before answering`);
        for (const listener of this.crashListeners) listener({ thread, error });
      });
    });
  }

  /** Send every running worker its current block lists; a dead one gets them when it restarts. */
  private async applyBlocks(): Promise<void> {
    const updates: Promise<ControlReply>[] = [];
    for (let thread = 1; thread < this.threadCount; thread++) {
      if (this.workers[thread] === null) continue;
      updates.push(this.control(thread, { type: 'block', token: 0, ...this.links.listsFor(thread) }));
    }
    await Promise.all(updates);
  }

  /** Send a setup request to a worker and wait for its answer. */
  private control(thread: number, msg: ControlMsg): Promise<ControlReply> {
    const worker = this.workers[thread];
    if (!worker) return Promise.reject(new InvalidRequestError(`thread ${thread} is not running`));
    const token = this.nextToken++;
    return new Promise<ControlReply>((resolve, reject) => {
      this.waiting.set(token, { thread, resolve, reject });
      worker.postMessage({ ...msg, token });
    });
  }

  private settle(reply: Exclude<ControlReply, { type: 'ready' }>): void {
    const waiter = this.waiting.get(reply.token);
    if (!waiter) return;
    this.waiting.delete(reply.token);
    if (reply.type === 'done' && reply.error !== undefined) waiter.reject(new InvalidRequestError(reply.error));
    else waiter.resolve(reply);
  }
}
