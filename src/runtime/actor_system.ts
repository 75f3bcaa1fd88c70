/**
 * The actor system as the main thread sees it. Logical thread 0 hosts
 * main-thread actors and the embedding API; logical threads 1..n each hold
 * one group of actors (a cluster node), and run on worker (OS) threads:
 * one each by default, or several to a worker (`workers`), so a machine with
 * fewer cores than nodes does not spend its time waking threads. Actors see
 * only logical threads (`ActorRef.thread`); where one runs is `placement`.
 *
 * The system allocates the shared memory (a ring per directed worker pair, a
 * doorbell per worker), starts the workers, and supervises them. A logical
 * thread can crash alone (`terminateThread`: a node crash, other nodes on its
 * worker run on) and restart (`restartThread`) with the same actors in fresh
 * state. A worker that dies is reported as the crash of every logical thread
 * on it, and is started again, with fresh rings, when one of them restarts.
 * Logical threads can be partitioned from each other (`partition`,
 * `partitionOneWay`, `heal`); see partition.ts.
 *
 * Thread contract: an ActorSystem is created and used on the main thread only.
 */
import { Worker } from 'node:worker_threads';
import { assert } from '../core/assert.js';
import { InvalidRequestError } from '../core/errors.js';
import { ASK_DEFAULT_TIMEOUT_MS, CRASH_EXIT_MS, RING_CAPACITY_BYTES, SHUTDOWN_GRACE_MS, THREADS_MAX, WORKER_YOUNG_GENERATION_MB } from '../core/limits.js';
import type { ActorKinds, ActorRef, Message, SpawnSpec } from './actor.js';
import { ActorHost, type HostStats } from './actor_host.js';
import { defaultSink, type LogSink } from './logger.js';
import { PartitionLinks, type BlockLists } from './partition.js';
import { allocateRing } from './ring.js';
import type { ControlMsg, ControlReply, WorkerSetup } from './setup_messages.js';
import { allocateDoorbells, Transport, type TransportWiring } from './transport.js';
import { routeOf } from './codec.js';
import type { Envelope } from './envelope.js';
import type { RemoteThreads } from './gateway.js';

export type { RemoteThreads } from './gateway.js';

/** How to start an actor system. */
export interface ActorSystemOptions {
  /** Logical threads of actors besides the main thread's (threads 1..threads). */
  threads: number;
  /**
   * Worker (OS) threads hosting them: 1..threads, default `threads` (one
   * each). Logical thread t runs on worker 1 + (t - 1) mod workers.
   */
  workers?: number;
  /** File URLs of modules exporting `actorKinds`, loaded by every worker. */
  modules: string[];
  /** Actor kinds that may be spawned on the main thread. */
  mainKinds?: ActorKinds;
  /** Actors each logical thread spawns at start, by thread index. */
  spawn?: Record<number, SpawnSpec[]>;
  /** Data bytes per ring (power of two); default RING_CAPACITY_BYTES. */
  ringCapacityBytes?: number;
  /** How long `terminateThread` waits for a thread to crash itself; default CRASH_EXIT_MS. */
  crashExitMs?: number;
  /** Where main-thread logs go. */
  sink?: LogSink;
  /** Logical threads hosted by other processes (none by default). */
  remote?: RemoteThreads;
  /**
   * Logical threads after `threads` (threads + 1 .. threads + spareThreads)
   * placed like the others but not started: a node that joins later runs on
   * one (`startThread`). None by default.
   */
  spareThreads?: number;
}

/** A logical thread (a node) crashed, alone or with its worker. */
export interface ThreadCrash {
  thread: number;
  error: Error;
}

/**
 * placement[t]: the worker hosting logical thread t, for `threads` logical
 * threads on `workers` workers (0 stays on the main thread). The i-th
 * thread hosted here runs on worker 1 + i mod workers; a thread of
 * `remote` (hosted by another process) is placed on the main thread, which
 * forwards its envelopes to that process (`RemoteThreads`).
 */
export function placeThreads(threads: number, workers: number, remote: ReadonlySet<number> = new Set()): number[] {
  const local = threads - remote.size;
  assert(workers >= 1 && workers <= local, `1..${local} workers for ${local} threads hosted here`);
  let next = 0;
  return Array.from({ length: threads + 1 }, (_, t) => (t === 0 || remote.has(t) ? 0 : 1 + (next++ % workers)));
}


const WORKER_URL = new URL('./worker_main.js', import.meta.url);

/** A running actor system. */
export class ActorSystem {
  /** Host of the main thread's actors (logical thread 0). */
  readonly host: ActorHost;
  private readonly transport: Transport;
  private readonly wiring: TransportWiring;
  /** placement[t]: the worker hosting logical thread t. */
  private readonly placement: number[];
  /** By worker index (0, the main thread, is never a Worker). */
  private readonly workers: (Worker | null)[] = [];
  /** Actors of each logical thread, re-spawned when it restarts. */
  private readonly specs: SpawnSpec[][] = [];
  /** Whether each logical thread runs (thread 0 always does). */
  private readonly running: boolean[] = [];
  private readonly crashListeners: ((crash: ThreadCrash) => void)[] = [];
  /** Blocked links between logical threads; re-sent to a worker when it restarts. */
  private readonly links: PartitionLinks;
  private readonly waiting = new Map<number, { worker: number; resolve(reply: ControlReply): void; reject(err: Error): void }>();
  private nextToken = 1;
  private shuttingDown = false;
  /** Logical threads hosted by other processes. */
  private readonly remoteThreads: ReadonlySet<number>;
  /** Envelopes from peers that no thread here could take (misrouted, or a full ring). */
  peerDrops = 0;

  /** Logical threads that do not run until `startThread` (`spareThreads`). */
  private readonly spare = new Set<number>();

  private constructor(private readonly options: ActorSystemOptions) {
    const spare = options.spareThreads ?? 0;
    const threadCount = options.threads + spare + 1;
    assert(options.threads >= 1 && spare >= 0 && threadCount <= THREADS_MAX, `1..${THREADS_MAX - 1} threads, spares included`);
    const remote = new Set(options.remote?.threads ?? []);
    for (const t of remote) assert(Number.isInteger(t) && t >= 1 && t <= options.threads, 'a remote thread is a node thread');
    for (let t = options.threads + 1; t < threadCount; t++) this.spare.add(t);
    this.placement = placeThreads(options.threads + spare, options.workers ?? options.threads - remote.size, remote);
    const workerCount = Math.max(...this.placement) + 1;
    const capacity = options.ringCapacityBytes ?? RING_CAPACITY_BYTES;
    const rings: (SharedArrayBuffer | null)[][] = [];
    for (let src = 0; src < workerCount; src++) {
      rings.push([]);
      for (let dst = 0; dst < workerCount; dst++) rings[src]!.push(src === dst ? null : allocateRing(capacity));
    }
    this.wiring = { threadCount: workerCount, doorbells: allocateDoorbells(workerCount), rings };
    this.links = new PartitionLinks(threadCount);
    this.host = new ActorHost(0, this.placement, options.mainKinds ?? {}, options.sink ?? defaultSink());
    if (options.remote !== undefined) this.host.setGateway({ isRemote: (t) => remote.has(t), forward: options.remote.forward });
    this.remoteThreads = remote;
    this.host.startThread(0);
    this.transport = new Transport(0, this.wiring, this.host);
    this.host.attach(this.transport);
    for (let w = 0; w < workerCount; w++) this.workers.push(null);
    for (let t = 0; t < threadCount; t++) {
      this.specs.push([...(options.spawn?.[t] ?? [])]);
      this.running.push(t === 0);
    }
  }

  /** Start the main-thread transport and every worker; resolves when all are ready. */
  static async start(options: ActorSystemOptions): Promise<ActorSystem> {
    const system = new ActorSystem(options);
    system.transport.start();
    await Promise.all(Array.from({ length: system.workerCount - 1 }, (_, i) => system.startWorker(i + 1, system.threadsOn(i + 1).filter((t) => !system.spare.has(t)))));
    return system;
  }

  /**
   * Start logical thread `thread` (a spare, or one not running) with the
   * actors `spawn`; they are its actors at every restart from now on.
   */
  async startThread(thread: number, spawn: readonly SpawnSpec[]): Promise<void> {
    assert(thread > 0 && thread < this.threadCount, 'start a worker thread');
    this.specs[thread] = [...spawn];
    this.spare.delete(thread);
    await this.restartThread(thread);
  }

  /** The actors logical thread `thread` spawns when it next (re)starts. */
  respawnWith(thread: number, spawn: readonly SpawnSpec[]): void {
    assert(thread > 0 && thread < this.threadCount, 'a worker thread');
    this.specs[thread] = [...spawn];
  }

  /** Number of logical threads, main included. */
  get threadCount(): number {
    return this.specs.length;
  }

  /** Number of OS threads, main included. */
  get workerCount(): number {
    return this.wiring.threadCount;
  }

  /** The worker hosting logical thread `thread` (0: the main thread). */
  workerOf(thread: number): number {
    const worker = this.placement[thread];
    if (worker === undefined) throw new InvalidRequestError(`no thread ${thread}: threads are 0..${this.threadCount - 1}`);
    return worker;
  }

  /** Transport counters of the main thread. */
  get transportStats(): Transport['stats'] {
    return this.transport.stats;
  }

  /** Be told when a logical thread crashes. */
  onCrash(listener: (crash: ThreadCrash) => void): void {
    this.crashListeners.push(listener);
  }

  /** True while logical thread `thread` runs (the main thread always does). */
  isAlive(thread: number): boolean {
    return this.running[thread] === true;
  }

  /** Spawn an actor on logical thread `thread`; it is re-spawned when that thread restarts. */
  async spawn(thread: number, spec: SpawnSpec): Promise<ActorRef> {
    if (thread === 0) return this.host.spawn(spec, 0);
    await this.control(this.workerOf(thread), { type: 'spawn', token: 0, thread, spec });
    this.specs[thread]!.push(spec);
    return { thread, id: spec.id };
  }

  /**
   * Envelopes another process sent (its `RemoteThreads.forward`, over a
   * peer link): each goes to the worker hosting its thread. One for a thread
   * not hosted here, or for thread 0, is dropped and counted: a peer whose
   * view of who hosts what differs from ours.
   */
  fromPeer(envelopes: readonly Envelope[]): void {
    for (const env of envelopes) {
      const worker = this.placement[env.tt];
      if (worker === undefined || worker === 0 || this.remoteThreads.has(env.tt) || !this.transport.sendParts(worker, env.k, env.a, env.to, env.fi, env.m, routeOf(env.ft, env.tt))) {
        this.peerDrops++;
      }
    }
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
   * Restart a crashed logical thread: its actors again, with fresh state. On
   * a running worker that is all; a worker that died is started again first,
   * with fresh rings to and from it (whatever was in flight to it is gone, as
   * with any crash), hosting only this thread until the others restart.
   */
  async restartThread(thread: number): Promise<void> {
    assert(thread > 0 && thread < this.threadCount, 'restart a worker thread');
    if (this.running[thread]) throw new InvalidRequestError(`thread ${thread} is running; only a dead thread restarts`);
    const worker = this.workerOf(thread);
    if (this.workers[worker] !== null) {
      await this.control(worker, { type: 'start-thread', token: 0, thread, spawn: this.specs[thread]! });
      this.running[thread] = true;
      return;
    }
    const capacity = this.options.ringCapacityBytes ?? RING_CAPACITY_BYTES;
    const rings = this.wiring.rings;
    for (let other = 0; other < this.workerCount; other++) {
      if (other === worker) continue;
      rings[worker]![other] = allocateRing(capacity);
      rings[other]![worker] = allocateRing(capacity);
    }
    this.transport.rewire(worker, rings[0]![worker]!, rings[worker]![0]!);
    const rewires: Promise<ControlReply>[] = [];
    for (let other = 1; other < this.workerCount; other++) {
      if (other === worker || this.workers[other] === null) continue;
      rewires.push(this.control(other, { type: 'rewire', token: 0, other: worker, out: rings[other]![worker]!, inn: rings[worker]![other]! }));
    }
    await Promise.all(rewires);
    await this.startWorker(worker, [thread]);
  }

  /**
   * Crash logical thread `thread` abruptly: its actors get no `stopped`,
   * nothing is flushed, and crash listeners hear of it. Actors only release
   * native handles (`Actor.crashed`). Other threads on its worker run on.
   * Used by fault tests and the demo; `restartThread` brings it back. A
   * worker that does not carry the crash out within `crashExitMs` (stuck in
   * a loop) is terminated from outside, with every thread on it.
   */
  async terminateThread(thread: number): Promise<void> {
    if (!this.running[thread] || thread === 0) throw new InvalidRequestError(`thread ${thread} is not running`);
    const workerIndex = this.workerOf(thread);
    const worker = this.workers[workerIndex]!;
    const exited = new Promise<'exited'>((resolve) => worker.once('exit', () => resolve('exited')));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), this.options.crashExitMs ?? CRASH_EXIT_MS)));
    // The worker crashes the thread at a safe point (see worker_main's `crashThread`).
    const crashed = this.control(workerIndex, { type: 'crash-thread', token: 0, thread }).then(() => 'crashed' as const);
    const outcome = await Promise.race([crashed, exited, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      await worker.terminate();
      await exited;
      return; // the exit reported every thread of the worker
    }
    if (outcome === 'exited') return;
    this.host.log.info('thread crashed on request', { thread, worker: workerIndex });
    this.threadDown(thread, new Error(`thread ${thread} crashed on request`));
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

  /** Host counters of the worker hosting logical thread `thread` (shared by every thread on it). */
  async hostStats(thread: number): Promise<HostStats> {
    const worker = this.workerOf(thread);
    if (worker === 0) return { ...this.host.stats };
    const reply = await this.control(worker, { type: 'stats', token: 0 });
    assert(reply.type === 'stats', 'a stats request is answered with stats');
    return reply.stats;
  }

  /** Stop every worker and the main-thread actors. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    // Graceful first: every actor's `stopped()` runs (engines sync and close their files, LMDB closes), and
    // the thread exits once that work is done; a thread still busy after SHUTDOWN_GRACE_MS is terminated.
    const exits = this.workers.map(async (worker, index) => {
      if (!worker) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      await this.control(index, { type: 'shutdown', token: 0 }).catch(() => undefined);
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

  /** The logical threads placed on `worker`. */
  private threadsOn(worker: number): number[] {
    const out: number[] = [];
    for (let t = 1; t < this.threadCount; t++) if (this.placement[t] === worker) out.push(t);
    return out;
  }

  /** Logical thread `thread` is down: fail the main thread's asks to it now, and tell the listeners. */
  private threadDown(thread: number, error: Error): void {
    this.running[thread] = false;
    // Main-thread asks to it (clients' requests) learn of the crash now, typed, instead of at their deadline.
    this.host.failAsksTo(thread, `thread ${thread} died before answering`);
    for (const listener of this.crashListeners) listener({ thread, error });
  }

  private startWorker(index: number, threads: number[]): Promise<void> {
    const setup: WorkerSetup = {
      worker: index,
      placement: this.placement,
      wiring: this.wiring,
      modules: this.options.modules,
      threads: threads.map((thread) => ({ thread, spawn: this.specs[thread]! })),
      blocked: this.links.linksFor(this.threadsOn(index)),
    };
    const worker = new Worker(WORKER_URL, { workerData: setup, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    this.workers[index] = worker;
    let failure: Error | undefined;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (msg: ControlReply) => {
        if (msg.type === 'ready') {
          ready = true;
          for (const thread of threads) this.running[thread] = true;
          resolve();
        } else this.settle(msg);
      });
      worker.on('error', (err) => {
        failure = err;
      });
      worker.on('exit', (code) => {
        if (this.workers[index] === worker) this.workers[index] = null;
        // Setup requests to this worker will never be answered now.
        for (const [token, waiter] of this.waiting) {
          if (waiter.worker !== index) continue;
          this.waiting.delete(token);
          waiter.reject(new InvalidRequestError(`worker ${index} exited before answering a setup request`));
        }
        if (this.shuttingDown) return;
        const error = failure ?? new Error(`worker thread ${index} exited with code ${code}`);
        if (!ready) {
          reject(error);
          return;
        }
        const lost = this.threadsOn(index).filter((t) => this.running[t]);
        this.host.log.error('worker thread died', { worker: index, threads: lost, error: error.message });
        for (const thread of lost) this.threadDown(thread, error);
      });
    });
  }

  /** Send every running worker its current blocked links; a dead one gets them when it restarts. */
  private async applyBlocks(): Promise<void> {
    const updates: Promise<ControlReply>[] = [];
    for (let worker = 1; worker < this.workerCount; worker++) {
      if (this.workers[worker] === null) continue;
      updates.push(this.control(worker, { type: 'block', token: 0, links: this.links.linksFor(this.threadsOn(worker)) }));
    }
    await Promise.all(updates);
  }

  /** Send a setup request to a worker and wait for its answer. */
  private control(index: number, msg: ControlMsg): Promise<ControlReply> {
    const worker = this.workers[index];
    if (!worker) return Promise.reject(new InvalidRequestError(`worker ${index} is not running`));
    const token = this.nextToken++;
    return new Promise<ControlReply>((resolve, reject) => {
      this.waiting.set(token, { worker: index, resolve, reject });
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
